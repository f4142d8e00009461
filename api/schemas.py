"""Shared pieces of request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from guard.bounds import bad_character
from guard.people.models import UserHold


def _refuse_control_characters(value: Any) -> None:
    if isinstance(value, str):
        char = bad_character(value, multiline=True)
        if char is not None:
            raise ValueError(f"may not contain NUL or control characters (found U+{ord(char):04X})")
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_control_characters(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_control_characters(key)
            _refuse_control_characters(item)


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently ignored, and no text carries NUL or
    control characters (line breaks and tabs are fine)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        _refuse_control_characters(value)
        return value


class HoldOut(BaseModel):
    """A hold on a person. Who set it, why and the alert behind it are shown to admins and security only:
    the person on hold sees that it exists and since when, not which rule caught them."""

    id: str
    kind: str
    since: datetime
    reason: str | None = None
    set_by: str | None = None
    alert_id: str | None = None
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None


def hold_out(hold: UserHold, *, full: bool) -> HoldOut:
    if not full:
        return HoldOut(id=hold.id, kind=hold.kind, since=hold.set_at)
    return HoldOut(
        id=hold.id,
        kind=hold.kind,
        since=hold.set_at,
        reason=hold.reason,
        set_by=hold.set_by,
        alert_id=hold.alert_id,
        lifted_at=hold.lifted_at,
        lifted_by=hold.lifted_by,
        lift_reason=hold.lift_reason,
    )
