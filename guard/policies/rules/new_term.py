"""`new_term`: the first time a person touches a customer outside their own portfolio.

Each person has a learning period (from the first event the rule sees from them) during which the
customers they touch are only remembered. After it, touching a customer they have not touched within
`memory` raises a finding. Only events that say `in_portfolio: false` count by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from guard.policies.rules.base import Finding, RuleConfig, RuleType
from guard.policies.rules.durations import Duration, PositiveDuration, describe
from guard.policies.rules.events import Event

PRUNE_EVERY = 500


class NewTermConfig(RuleConfig):
    field: Literal["customer", "document"] = "customer"
    learning_period: Duration = Field(timedelta(days=14))
    memory: PositiveDuration = Field(timedelta(days=90), description="a value unseen this long is new again")
    outside_portfolio_only: bool = True


@dataclass
class _Person:
    first_seen: datetime
    seen: dict[str, datetime] = field(default_factory=dict)
    since_prune: int = 0


class NewTerm(RuleType[NewTermConfig]):
    name = "new_term"
    config_model = NewTermConfig

    def __init__(self, config: NewTermConfig) -> None:
        super().__init__(config)
        self.people: dict[str, _Person] = {}

    @property
    def horizon(self) -> timedelta:
        return max(self.config.memory, self.config.learning_period)

    def observe(self, event: Event) -> Finding | None:
        cfg = self.config
        person = self.people.get(event.actor)
        if person is None:
            person = self.people[event.actor] = _Person(first_seen=event.ts)
        if cfg.outside_portfolio_only and event.in_portfolio is not False:
            return None
        values = event.customer_ids if cfg.field == "customer" else event.document_ids
        forgotten = event.ts - cfg.memory
        new = [v for v in values if (last := person.seen.get(v)) is None or last <= forgotten]
        for value in values:
            last = person.seen.get(value)
            if last is None or event.ts > last:
                person.seen[value] = event.ts
        person.since_prune += 1
        if person.since_prune >= PRUNE_EVERY:
            person.seen = {v: t for v, t in person.seen.items() if t > forgotten}
            person.since_prune = 0
        if not new or event.ts < person.first_seen + cfg.learning_period:
            return None
        where = " outside their portfolio" if cfg.outside_portfolio_only else ""
        return Finding(
            user=event.actor,
            ts=event.ts,
            observed=len(new),
            threshold=1,
            window=cfg.memory,
            evidence=(event.seq,),
            summary=(
                f"{event.actor}: first touch of {cfg.field} {', '.join(sorted(new)[:5])}{where} "
                f"(none in the previous {describe(cfg.memory)})"
            ),
            details={f"new_{cfg.field}s": sorted(new)},
        )
