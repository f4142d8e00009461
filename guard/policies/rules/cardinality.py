"""`cardinality`: how many distinct customers (or documents) one person touched within a window."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from guard.policies.rules.base import Finding, RuleConfig, RuleType
from guard.policies.rules.durations import PositiveDuration, describe
from guard.policies.rules.events import Event
from guard.policies.rules.windows import WindowsByPerson


class CardinalityConfig(RuleConfig):
    field: Literal["customer", "document"] = "customer"
    threshold: int = Field(ge=2, description="alert when this many distinct values are reached")
    window: PositiveDuration


class Cardinality(RuleType[CardinalityConfig]):
    name = "cardinality"
    config_model = CardinalityConfig

    def __init__(self, config: CardinalityConfig) -> None:
        super().__init__(config)
        self.windows = WindowsByPerson(config.window)

    @property
    def horizon(self) -> timedelta:
        return self.config.window

    def observe(self, event: Event) -> Finding | None:
        cfg = self.config
        values = event.customer_ids if cfg.field == "customer" else event.document_ids
        if not values:
            return None
        window = self.windows[event.actor]
        window.add(event.ts, event.seq, values=values)
        distinct = len(window.distinct)
        if distinct < cfg.threshold:
            return None
        return Finding(
            user=event.actor,
            ts=event.ts,
            observed=distinct,
            threshold=cfg.threshold,
            window=cfg.window,
            evidence=window.evidence(),
            summary=(
                f"{event.actor}: {distinct} distinct {cfg.field}s within {describe(cfg.window)} "
                f"(threshold {cfg.threshold})"
            ),
            details={f"{cfg.field}s": sorted(window.distinct)[:50]},
        )
