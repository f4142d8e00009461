"""The fields of a rule file. Type-specific options are checked against the type's own config model."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from guard.policies.rules.durations import Duration
from guard.policies.rules.filters import Filters

Severity = Literal["low", "medium", "high", "critical"]
Response = Literal["notify", "suspend", "require_approval", "watch_team"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
RULE_NAME = r"^[a-z0-9][a-z0-9_.-]{0,99}$"


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=RULE_NAME, description="unique; lower-case letters, digits, '.', '_', '-'")
    type: str = Field(description="one of the registered rule types")
    description: str = Field("", max_length=2000)
    severity: Severity
    enabled: bool = True
    filters: Filters = Filters()
    options: dict[str, Any] = Field(default_factory=dict)
    responses: list[Response] = Field(default_factory=list)
    suppress_for: Duration = Field(timedelta(hours=1), description="no new alert for the same person before")

    @field_validator("responses")
    @classmethod
    def _each_once(cls, values: list[Response]) -> list[Response]:
        if len(set(values)) != len(values):
            raise ValueError("list each response once")
        return values
