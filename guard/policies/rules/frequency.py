"""`frequency`: at least N matching events (or items, with `weight: count`) by one person within a window."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from guard.policies.rules.base import Finding, RuleConfig, RuleType, Weight, noun, weight_of
from guard.policies.rules.durations import PositiveDuration, describe
from guard.policies.rules.events import Event
from guard.policies.rules.windows import WindowsByPerson


class FrequencyConfig(RuleConfig):
    threshold: int = Field(ge=1, description="alert when the count reaches this")
    window: PositiveDuration
    weight: Weight = Field("events", description="`events`, or `count` to add up documents/rows per event")


class Frequency(RuleType[FrequencyConfig]):
    name = "frequency"
    config_model = FrequencyConfig

    def __init__(self, config: FrequencyConfig) -> None:
        super().__init__(config)
        self.windows = WindowsByPerson(config.window)

    @property
    def horizon(self) -> timedelta:
        return self.config.window

    def observe(self, event: Event) -> Finding | None:
        cfg = self.config
        window = self.windows[event.actor]
        window.add(event.ts, event.seq, weight_of(event, cfg.weight))
        if window.total < cfg.threshold:
            return None
        return Finding(
            user=event.actor,
            ts=event.ts,
            observed=window.total,
            threshold=cfg.threshold,
            window=cfg.window,
            evidence=window.evidence(),
            summary=(
                f"{event.actor}: {window.total} {noun(cfg.weight, 'matching events')} within "
                f"{describe(cfg.window)} (threshold {cfg.threshold})"
            ),
        )
