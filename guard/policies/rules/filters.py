"""Which events a rule looks at. Every list is optional; an event must satisfy each list that is given,
and an event that lacks the field (an external event has no classification) does not satisfy it."""

from __future__ import annotations

import fnmatch
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from guard.policies.rules.events import Event

Classification = Literal["public", "internal", "confidential", "restricted"]
# `watched`: an active person whose team is in a departure wave (guard.detection.watches)
PersonStatus = Literal["active", "notice", "departed", "suspended", "watched"]
Decision = Literal["granted", "pending", "denied"]
ACTION_PATTERN = re.compile(r"^[a-z0-9_*?.\-]+$")


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: list[str] | None = Field(
        None, min_length=1, description="action names; shell-style wildcards allowed (`*.export`)"
    )
    classifications: list[Classification] | None = Field(None, min_length=1)
    statuses: list[PersonStatus] | None = Field(None, min_length=1, description="status at event time")
    sources: list[str] | None = Field(None, min_length=1, description="`guard` or an external source")
    decisions: list[Decision] | None = Field(None, min_length=1)
    portfolio: Literal["own", "outside"] | None = Field(
        None, description="documents of the person's own customers, or of anyone else's"
    )

    @field_validator("actions")
    @classmethod
    def _actions_are_patterns(cls, values: list[str] | None) -> list[str] | None:
        for value in values or []:
            if not ACTION_PATTERN.match(value):
                raise ValueError(
                    f"{value!r} is not an action pattern: use lower-case names, dots and * or ? wildcards"
                )
        return values


class CompiledFilters:
    """Filters turned into a fast test: action patterns are matched once per distinct action name."""

    __slots__ = (
        "_action_cache",
        "_action_regex",
        "classifications",
        "decisions",
        "portfolio",
        "sources",
        "statuses",
    )

    def __init__(self, filters: Filters) -> None:
        self._action_regex = (
            re.compile("|".join(fnmatch.translate(p) for p in filters.actions)) if filters.actions else None
        )
        self._action_cache: dict[str, bool] = {}
        self.classifications = frozenset(filters.classifications) if filters.classifications else None
        self.statuses = frozenset(filters.statuses) if filters.statuses else None
        self.sources = frozenset(filters.sources) if filters.sources else None
        self.decisions = frozenset(filters.decisions) if filters.decisions else None
        self.portfolio = None if filters.portfolio is None else filters.portfolio == "own"

    def matches_action(self, action: str) -> bool:
        if self._action_regex is None:
            return True
        hit = self._action_cache.get(action)
        if hit is None:
            hit = self._action_cache[action] = bool(self._action_regex.match(action))
        return hit

    @property
    def checks_fields(self) -> bool:
        """Whether anything besides the action is filtered on."""
        return any(
            f is not None
            for f in (self.classifications, self.statuses, self.sources, self.decisions, self.portfolio)
        )

    def matches(self, event: Event) -> bool:
        return self.matches_action(event.action) and self.matches_fields(event)

    def matches_fields(self, event: Event) -> bool:
        if self.classifications is not None and event.classification not in self.classifications:
            return False
        if self.statuses is not None and event.status not in self.statuses:
            return False
        if self.sources is not None and event.source not in self.sources:
            return False
        if self.portfolio is not None and event.in_portfolio is not self.portfolio:
            return False
        return self.decisions is None or event.decision in self.decisions
