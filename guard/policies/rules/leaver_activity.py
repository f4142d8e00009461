"""`leaver_activity`: one of the other conditions, applied only to people on notice (usually with lower
thresholds than for everyone). The status is the one recorded in each entry, i.e. at the time of the event.

    type: leaver_activity
    options:
      condition: {type: frequency, options: {threshold: 10, window: 1h, weight: count}}
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from guard.policies.rules.base import Finding, RuleConfig, RuleType
from guard.policies.rules.cardinality import Cardinality, CardinalityConfig
from guard.policies.rules.denied_burst import DeniedBurst, DeniedBurstConfig
from guard.policies.rules.events import Event
from guard.policies.rules.filters import PersonStatus
from guard.policies.rules.frequency import Frequency, FrequencyConfig
from guard.policies.rules.honeytoken import Honeytoken, HoneytokenConfig
from guard.policies.rules.new_term import NewTerm, NewTermConfig
from guard.policies.rules.off_hours import OffHours, OffHoursConfig
from guard.policies.rules.spike import Spike, SpikeConfig
from guard.policies.rules.trend import Trend, TrendConfig


class _Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FrequencyCondition(_Condition):
    type: Literal["frequency"]
    options: FrequencyConfig


class SpikeCondition(_Condition):
    type: Literal["spike"]
    options: SpikeConfig


class CardinalityCondition(_Condition):
    type: Literal["cardinality"]
    options: CardinalityConfig


class NewTermCondition(_Condition):
    type: Literal["new_term"]
    options: NewTermConfig = NewTermConfig()


class OffHoursCondition(_Condition):
    type: Literal["off_hours"]
    options: OffHoursConfig = OffHoursConfig()


class HoneytokenCondition(_Condition):
    type: Literal["honeytoken"]
    options: HoneytokenConfig = HoneytokenConfig()


class TrendCondition(_Condition):
    type: Literal["trend"]
    options: TrendConfig


class DeniedBurstCondition(_Condition):
    type: Literal["denied_burst"]
    options: DeniedBurstConfig


Condition = Annotated[
    FrequencyCondition
    | SpikeCondition
    | CardinalityCondition
    | NewTermCondition
    | OffHoursCondition
    | HoneytokenCondition
    | DeniedBurstCondition
    | TrendCondition,
    Field(discriminator="type"),
]

# The conditions a leaver rule can wrap: every other type (never itself).
INNER_TYPES: dict[str, type[RuleType[Any]]] = {
    cls.name: cls
    for cls in (Frequency, Spike, Cardinality, NewTerm, OffHours, Honeytoken, DeniedBurst, Trend)
}


class LeaverActivityConfig(RuleConfig):
    condition: Condition
    # People on notice, and colleagues of a departure wave while their team is watched.
    statuses: list[PersonStatus] = Field(["notice", "watched"], min_length=1)
    learn_from: Literal["leavers", "everyone"] = Field(
        "leavers",
        description="`everyone`: the condition also learns from the person's time before the notice (a "
        "baseline of their own ordinary weeks), but only judges what they do on notice",
    )


class LeaverActivity(RuleType[LeaverActivityConfig]):
    name = "leaver_activity"
    config_model = LeaverActivityConfig

    def __init__(self, config: LeaverActivityConfig) -> None:
        super().__init__(config)
        self.statuses = frozenset(config.statuses)
        self.inner: RuleType[Any] = INNER_TYPES[config.condition.type](config.condition.options)

    @property
    def horizon(self) -> timedelta:
        return self.inner.horizon

    def observe(self, event: Event) -> Finding | None:
        if event.status not in self.statuses:
            if self.config.learn_from == "everyone":
                self.inner.observe(event)  # history for the baseline; nothing is judged before the notice
            return None
        finding = self.inner.observe(event)
        if finding is None:
            return None
        return Finding(
            user=finding.user,
            ts=finding.ts,
            observed=finding.observed,
            threshold=finding.threshold,
            window=finding.window,
            evidence=finding.evidence,
            summary=f"on {event.status}: {finding.summary}",
            details={**finding.details, "condition": self.config.condition.type, "status": event.status},
        )
