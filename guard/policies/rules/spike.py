"""`spike`: a person's count in the current window against their own baseline.

Time is cut into fixed windows (a day, an hour). The baseline is the mean count over the person's previous
active windows (windows with no activity at all, such as weekends, are left out by default). The rule
learns until it has `min_history` such windows, then alerts when the current window reaches both
`factor` times the baseline and the absolute `minimum`, once per window. With `peers: department` the
count must also reach `peer_factor` times what the peers did in the same window so far (the median of
the others in the person's department, as recorded with their access decisions): a quarter-end that
lifts the whole team, or what the team does every day, is not an alert for one of them. With
`sustained: N` the N-1 windows just before the current one must have ended as high too (against the
baseline and the peers of their time): a habit, not one busy week. `baseline_excludes: [notice]` keeps
windows with entries made on notice out of the baseline, so weeks of taking do not become the usual.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from pydantic import Field

from guard.policies.rules.base import MAX_EVIDENCE, Finding, RuleConfig, RuleType, Weight, noun, weight_of
from guard.policies.rules.durations import PositiveDuration, describe
from guard.policies.rules.events import Event


class SpikeConfig(RuleConfig):
    window: PositiveDuration = Field(timedelta(days=1))
    baseline_windows: int = Field(14, ge=1, le=366, description="how many previous windows form the baseline")
    min_history: int = Field(5, ge=1, description="windows of history needed before judging")
    factor: float = Field(3.0, gt=1)
    minimum: int = Field(ge=1, description="the current count must also reach this")
    weight: Weight = "events"
    ignore_empty_windows: bool = True
    peers: Literal["none", "department"] = "none"
    peer_factor: float = Field(
        1.5, gt=0, description="with peers: times the peers' usual the count must reach"
    )
    min_peers: int = Field(3, ge=1, description="with peers: fewer peers with a baseline, judge alone")
    baseline_excludes: list[str] = Field(
        [],
        description="statuses whose windows never enter the baseline (notice: the usual stays pre-notice)",
    )
    sustained: int = Field(
        1, ge=1, le=12, description="windows in a row that must be this high (the current one included)"
    )


@dataclass
class _Person:
    first: int
    bucket: int
    count: int = 0
    seqs: list[int] = field(default_factory=list)
    fired: bool = False
    history: deque[tuple[int, int]] = field(default_factory=deque)  # (bucket, count) of past windows
    judged: tuple[float, float, int] | None = None  # (mean, spread, windows) for the current bucket
    judged_bucket: int | None = None
    department: str | None = None
    excluded: bool = False  # this window had an entry with a status in baseline_excludes
    high_until: int | None = None  # the last finished window that ended as high (for `sustained`)
    streak: int = 0  # how many windows in a row, up to high_until


class Spike(RuleType[SpikeConfig]):
    name = "spike"
    config_model = SpikeConfig

    def __init__(self, config: SpikeConfig) -> None:
        super().__init__(config)
        self.span = config.window.total_seconds()
        self.people: dict[str, _Person] = {}
        # department -> person -> (window, count in it, previous window, its final count)
        self.departments: dict[str, dict[str, tuple[int, int, int, int]]] = {}

    @property
    def horizon(self) -> timedelta:
        return self.config.window * (self.config.baseline_windows + 1)

    def _baseline(self, person: _Person) -> tuple[float, float, int] | None:
        """The mean and the spread (population standard deviation) of the person's past windows."""
        cfg = self.config
        counts = [c for b, c in person.history if person.bucket - b <= cfg.baseline_windows]
        if cfg.ignore_empty_windows:
            windows = len(counts)
        else:
            windows = min(cfg.baseline_windows, person.bucket - person.first)
        if windows < cfg.min_history:
            return None
        counts += [0] * (windows - len(counts))  # windows without activity, where they count
        mean = sum(counts) / windows
        return mean, (sum((c - mean) ** 2 for c in counts) / windows) ** 0.5, windows

    def observe(self, event: Event) -> Finding | None:
        cfg = self.config
        bucket = int(event.ts.timestamp() // self.span)
        person = self.people.get(event.actor)
        if person is None:
            person = self.people[event.actor] = _Person(first=bucket, bucket=bucket)
        if bucket < person.bucket:
            return None  # a late event for a window already judged
        if bucket > person.bucket:
            if cfg.sustained > 1 and person.count:
                self._close_window(person, event.actor)
            if person.count and not person.excluded:
                person.history.append((person.bucket, person.count))
            while person.history and bucket - person.history[0][0] > cfg.baseline_windows:
                person.history.popleft()
            person.bucket, person.count, person.seqs, person.fired = bucket, 0, [], False
            person.excluded = False
        if cfg.baseline_excludes and event.status in cfg.baseline_excludes:
            person.excluded = True
        person.count += weight_of(event, cfg.weight)
        if cfg.peers != "none":
            self._note_for_peers(person, event.actor, event.department)
        person.seqs.append(event.seq)
        if person.fired or person.count < cfg.minimum:
            return None
        if person.judged_bucket != person.bucket:  # the history only changes when the window moves on
            person.judged, person.judged_bucket = self._baseline(person), person.bucket
        judged = person.judged
        if judged is None:
            return None
        baseline, spread, windows = judged
        if person.count < cfg.factor * baseline:
            return None
        peer = self._peers_in(event.actor, person, person.bucket) if cfg.peers != "none" else None
        if peer is not None and person.count < cfg.peer_factor * peer[0]:
            return None
        if cfg.sustained > 1 and (
            person.high_until != person.bucket - 1 or person.streak < cfg.sustained - 1
        ):
            return None
        person.fired = True
        threshold = max(cfg.minimum, cfg.factor * baseline, cfg.peer_factor * peer[0] if peer else 0)
        details: dict[str, object] = {
            "baseline": round(baseline, 2),
            "baseline_spread": round(spread, 2),
            "baseline_windows": windows,
        }
        if peer is not None:
            details |= {"peer_median": round(peer[0], 2), "peers": peer[1], "department": person.department}
        if cfg.sustained > 1:
            details["sustained_windows"] = person.streak + 1
        return Finding(
            user=event.actor,
            ts=event.ts,
            observed=person.count,
            threshold=threshold,
            window=cfg.window,
            evidence=tuple(person.seqs[-MAX_EVIDENCE:]),
            summary=(
                f"{event.actor}: {person.count} {noun(cfg.weight, 'events')} in this {describe(cfg.window)} "
                f"window against a usual {baseline:.1f} (x{cfg.factor:g} over {windows} windows)"
                + (f"; {peer[1]} peers in {person.department}: {peer[0]:g} in it so far" if peer else "")
            ),
            details=details,
        )

    def _close_window(self, person: _Person, actor: str) -> None:
        """Whether the window ending now ended as high: the streak `sustained` asks for."""
        cfg = self.config
        judged = person.judged if person.judged_bucket == person.bucket else self._baseline(person)
        high = judged is not None and person.count >= max(cfg.minimum, cfg.factor * judged[0])
        if high and cfg.peers != "none":
            peer = self._peers_in(actor, person, person.bucket)
            high = peer is None or person.count >= cfg.peer_factor * peer[0]
        if high:
            consecutive = person.high_until == person.bucket - 1
            person.streak = person.streak + 1 if consecutive else 1
            person.high_until = person.bucket

    def _note_for_peers(self, person: _Person, actor: str, department: str | None) -> None:
        if department is not None and department != person.department:
            if person.department is not None:
                self.departments.get(person.department, {}).pop(actor, None)
            person.department = department
        if person.department is None:
            return
        team = self.departments.setdefault(person.department, {})
        bucket, count, before, before_count = team.get(actor, (person.bucket, 0, -1, 0))
        if bucket != person.bucket:  # a new window: the one before is final now
            before, before_count = bucket, count
        team[actor] = (person.bucket, person.count, before, before_count)

    def _peers_in(self, actor: str, person: _Person, window: int) -> tuple[float, int] | None:
        """The median count of the others in the person's department in `window` (so far, for the
        current one; 0 for those not seen in it), and how many they are."""
        team = self.departments.get(person.department) if person.department else None
        if not team:
            return None
        others = [
            count if bucket == window else before_count if before == window else 0
            for name, (bucket, count, before, before_count) in team.items()
            if name != actor
        ]
        if len(others) < self.config.min_peers:
            return None
        return float(statistics.median(others)), len(others)
