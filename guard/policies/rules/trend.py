"""`trend`: a person's count rising window after window (day after day, week after week).

Time is cut into fixed windows as for `spike`; windows without activity (weekends) are left out. The rule
alerts, once per window, when the current window is higher than the one before it for `rises` windows in
a row, has reached `factor` times the window where the run began, and the absolute `minimum`: the slope
of someone working up the courage, or an automated pull that speeds up, long before any one window is
a spike.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise

from pydantic import Field

from guard.policies.rules.base import MAX_EVIDENCE, Finding, RuleConfig, RuleType, Weight, noun, weight_of
from guard.policies.rules.durations import PositiveDuration, describe
from guard.policies.rules.events import Event


class TrendConfig(RuleConfig):
    window: PositiveDuration = Field(timedelta(days=1))
    rises: int = Field(3, ge=2, le=30, description="windows in a row each higher than the one before")
    factor: float = Field(2.0, gt=1, description="the current window against the one the run began in")
    minimum: int = Field(ge=1, description="the current count must also reach this")
    weight: Weight = "events"


@dataclass
class _Person:
    bucket: int
    count: int = 0
    seqs: list[int] = field(default_factory=list)
    fired: bool = False
    past: deque[int] = field(default_factory=deque)  # counts of the previous active windows, oldest first


class Trend(RuleType[TrendConfig]):
    name = "trend"
    config_model = TrendConfig

    def __init__(self, config: TrendConfig) -> None:
        super().__init__(config)
        self.span = config.window.total_seconds()
        self.people: dict[str, _Person] = {}

    @property
    def horizon(self) -> timedelta:
        # Active windows are what count; weekends and holidays in between need room too.
        return self.config.window * (2 * self.config.rises + 2)

    def observe(self, event: Event) -> Finding | None:
        cfg = self.config
        bucket = int(event.ts.timestamp() // self.span)
        person = self.people.get(event.actor)
        if person is None:
            person = self.people[event.actor] = _Person(bucket=bucket)
        if bucket < person.bucket:
            return None  # a late event for a window already judged
        if bucket > person.bucket:
            if person.count:
                person.past.append(person.count)
                while len(person.past) > cfg.rises:
                    person.past.popleft()
            person.bucket, person.count, person.seqs, person.fired = bucket, 0, [], False
        person.count += weight_of(event, cfg.weight)
        person.seqs.append(event.seq)
        if person.fired or person.count < cfg.minimum or len(person.past) < cfg.rises:
            return None
        run = [*person.past, person.count]
        if any(later <= earlier for earlier, later in pairwise(run)):
            return None
        if person.count < cfg.factor * run[0]:
            return None
        person.fired = True
        return Finding(
            user=event.actor,
            ts=event.ts,
            observed=person.count,
            threshold=max(cfg.minimum, cfg.factor * run[0]),
            window=cfg.window,
            evidence=tuple(person.seqs[-MAX_EVIDENCE:]),
            summary=(
                f"{event.actor}: {noun(cfg.weight, 'events')} rising {cfg.rises} {describe(cfg.window)} "
                f"windows in a row: {' -> '.join(str(c) for c in run)} (x{person.count / run[0]:.1f})"
            ),
            details={"run": run},
        )
