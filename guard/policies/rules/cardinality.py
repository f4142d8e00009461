"""`cardinality`: how many distinct customers (or documents) one person touched within a window."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from guard.policies.rules.base import Finding
from guard.policies.rules.durations import describe
from guard.policies.rules.events import Event
from guard.policies.rules.windowed import WindowedConfig, WindowedRule


class CardinalityConfig(WindowedConfig):
    field: Literal["customer", "document"] = "customer"
    threshold: int = Field(ge=2, description="alert when this many distinct values are reached")


class Cardinality(WindowedRule[CardinalityConfig]):
    name = "cardinality"
    config_model = CardinalityConfig

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
        return self.finding(
            event,
            window,
            observed=distinct,
            summary=(
                f"{event.actor}: {distinct} distinct {cfg.field}s within {describe(cfg.window)} "
                f"(threshold {cfg.threshold})"
            ),
            details={f"{cfg.field}s": sorted(window.distinct)[:50]},
        )
