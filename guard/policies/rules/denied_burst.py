"""`denied_burst`: many refused requests by one person in a short time (probing for what is allowed)."""

from __future__ import annotations

from pydantic import Field

from guard.policies.rules.base import Finding
from guard.policies.rules.durations import describe
from guard.policies.rules.events import Event
from guard.policies.rules.filters import Decision
from guard.policies.rules.windowed import WindowedConfig, WindowedRule


class DeniedBurstConfig(WindowedConfig):
    threshold: int = Field(ge=2)
    decisions: list[Decision] = Field(["denied"], min_length=1, description="which answers count as refusals")


class DeniedBurst(WindowedRule[DeniedBurstConfig]):
    name = "denied_burst"
    config_model = DeniedBurstConfig

    def __init__(self, config: DeniedBurstConfig) -> None:
        super().__init__(config)
        self.refusals = frozenset(config.decisions)

    def observe(self, event: Event) -> Finding | None:
        if event.decision not in self.refusals:
            return None
        cfg = self.config
        window = self.windows[event.actor]
        window.add(event.ts, event.seq)
        if window.total < cfg.threshold:
            return None
        return self.finding(
            event,
            window,
            observed=window.total,
            summary=(
                f"{event.actor}: {window.total} refused requests within {describe(cfg.window)} "
                f"(threshold {cfg.threshold})"
            ),
        )
