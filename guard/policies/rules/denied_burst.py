"""`denied_burst`: many refused requests by one person in a short time (probing for what is allowed)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from guard.policies.rules.base import Finding, RuleConfig, RuleType
from guard.policies.rules.durations import PositiveDuration, describe
from guard.policies.rules.events import Event
from guard.policies.rules.filters import Decision
from guard.policies.rules.windows import WindowsByPerson


class DeniedBurstConfig(RuleConfig):
    threshold: int = Field(ge=2)
    window: PositiveDuration
    decisions: list[Decision] = Field(["denied"], min_length=1, description="which answers count as refusals")


class DeniedBurst(RuleType[DeniedBurstConfig]):
    name = "denied_burst"
    config_model = DeniedBurstConfig

    def __init__(self, config: DeniedBurstConfig) -> None:
        super().__init__(config)
        self.refusals = frozenset(config.decisions)
        self.windows = WindowsByPerson(config.window)

    @property
    def horizon(self) -> timedelta:
        return self.config.window

    def observe(self, event: Event) -> Finding | None:
        if event.decision not in self.refusals:
            return None
        cfg = self.config
        window = self.windows[event.actor]
        window.add(event.ts, event.seq)
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
                f"{event.actor}: {window.total} refused requests within {describe(cfg.window)} "
                f"(threshold {cfg.threshold})"
            ),
        )
