"""What every rule type shares: its config base, what it reports, and the interface the detector calls."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from guard.policies.rules.events import Event

# An alert lists at most this many entries as evidence (the most recent ones); the count is in `observed`.
MAX_EVIDENCE = 200

Weight = Literal["events", "count"]


class RuleConfig(BaseModel):
    """A rule type's options. Unknown options are errors, so a typo cannot silently disable a check."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Finding:
    """A rule's conclusion about one person, explained: what was counted, against what, over which span."""

    user: str
    ts: datetime
    observed: float
    threshold: float
    window: timedelta | None
    evidence: tuple[int, ...]
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


ConfigT = TypeVar("ConfigT", bound=RuleConfig)


class RuleType(ABC, Generic[ConfigT]):
    """One kind of check. An instance keeps its own per-person state; feed it events in sequence order."""

    name: ClassVar[str]
    config_model: ClassVar[type[RuleConfig]]

    def __init__(self, config: ConfigT) -> None:
        self.config = config

    @abstractmethod
    def observe(self, event: Event) -> Finding | None:
        """Take one event that passed the rule's filters; report a finding when the condition holds."""

    @property
    @abstractmethod
    def horizon(self) -> timedelta:
        """How far back the state reaches: replaying this much history rebuilds it."""


def weight_of(event: Event, weight: Weight) -> int:
    return event.count if weight == "count" else 1


def noun(weight: Weight, what: str) -> str:
    return "items" if weight == "count" else what
