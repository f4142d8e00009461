"""`frequency`: at least N matching events (or items, with `weight: count`) by one person within a window."""

from __future__ import annotations

from pydantic import Field

from guard.policies.rules.base import Finding, Weight, noun, weight_of
from guard.policies.rules.durations import describe
from guard.policies.rules.events import Event
from guard.policies.rules.windowed import WindowedConfig, WindowedRule


class FrequencyConfig(WindowedConfig):
    threshold: int = Field(ge=1, description="alert when the count reaches this")
    weight: Weight = Field("events", description="`events`, or `count` to add up documents/rows per event")


class Frequency(WindowedRule[FrequencyConfig]):
    name = "frequency"
    config_model = FrequencyConfig

    def observe(self, event: Event) -> Finding | None:
        cfg = self.config
        window = self.windows[event.actor]
        window.add(event.ts, event.seq, weight_of(event, cfg.weight))
        if window.total < cfg.threshold:
            return None
        return self.finding(
            event,
            window,
            observed=window.total,
            summary=(
                f"{event.actor}: {window.total} {noun(cfg.weight, 'matching events')} within "
                f"{describe(cfg.window)} (threshold {cfg.threshold})"
            ),
        )
