"""Rules that count one person's events in a sliding window and report when a threshold is reached."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from pydantic import Field

from guard.policies.rules.base import Finding, RuleConfig, RuleType
from guard.policies.rules.durations import PositiveDuration
from guard.policies.rules.events import Event
from guard.policies.rules.windows import SlidingWindow, WindowsByPerson


class WindowedConfig(RuleConfig):
    threshold: int = Field(ge=1)
    window: PositiveDuration


WindowedConfigT = TypeVar("WindowedConfigT", bound=WindowedConfig)


class WindowedRule(RuleType[WindowedConfigT]):
    """One sliding window per person over `config.window`; replaying one window rebuilds the state."""

    def __init__(self, config: WindowedConfigT) -> None:
        super().__init__(config)
        self.windows = WindowsByPerson(config.window)

    @property
    def horizon(self) -> timedelta:
        return self.config.window

    def finding(
        self,
        event: Event,
        window: SlidingWindow,
        *,
        observed: int,
        summary: str,
        details: dict[str, Any] | None = None,
    ) -> Finding:
        """The finding for a window whose count reached the threshold, with its newest entries as evidence."""
        return Finding(
            user=event.actor,
            ts=event.ts,
            observed=observed,
            threshold=self.config.threshold,
            window=self.config.window,
            evidence=window.evidence(),
            summary=summary,
            details=details or {},
        )
