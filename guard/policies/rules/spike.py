"""`spike`: a person's count in the current window against their own baseline.

Time is cut into fixed windows (a day, an hour). The baseline is the mean count over the person's previous
active windows (windows with no activity at all, such as weekends, are left out by default). The rule
learns until it has `min_history` such windows, then alerts when the current window reaches both
`factor` times the baseline and the absolute `minimum`, once per window. With `peers: department` the
count must also reach `peer_factor` times what the peers did in the same window so far (the median of
the others in the person's department, as recorded with their access decisions): a quarter-end that
lifts the whole team, or what the team does every day, is not an alert for one of them.
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


class Spike(RuleType[SpikeConfig]):
    name = "spike"
    config_model = SpikeConfig

    def __init__(self, config: SpikeConfig) -> None:
        super().__init__(config)
        self.span = config.window.total_seconds()
        self.people: dict[str, _Person] = {}
        # department -> person -> (window, count in it): the team's counts in the windows running now
        self.departments: dict[str, dict[str, tuple[int, int]]] = {}

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
            if person.count:
                person.history.append((person.bucket, person.count))
            while person.history and bucket - person.history[0][0] > cfg.baseline_windows:
                person.history.popleft()
            person.bucket, person.count, person.seqs, person.fired = bucket, 0, [], False
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
        peer = self._peers_now(event.actor, person) if cfg.peers != "none" else None
        if peer is not None and person.count < cfg.peer_factor * peer[0]:
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

    def _note_for_peers(self, person: _Person, actor: str, department: str | None) -> None:
        if department is not None and department != person.department:
            if person.department is not None:
                self.departments.get(person.department, {}).pop(actor, None)
            person.department = department
        if person.department is not None:
            self.departments.setdefault(person.department, {})[actor] = (person.bucket, person.count)

    def _peers_now(self, actor: str, person: _Person) -> tuple[float, int] | None:
        """The median count of the others in the person's department in this window so far (0 for those
        not seen in it yet), and how many they are."""
        team = self.departments.get(person.department) if person.department else None
        if not team:
            return None
        others = [
            count if bucket == person.bucket else 0 for name, (bucket, count) in team.items() if name != actor
        ]
        if len(others) < self.config.min_peers:
            return None
        return float(statistics.median(others)), len(others)
