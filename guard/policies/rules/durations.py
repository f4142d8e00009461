"""Durations in rule files: `90s`, `10m`, `1h`, `7d`, `2w`, a number of seconds, or ISO 8601 (`PT10M`)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(value: Any) -> Any:
    if isinstance(value, str) and value.strip().upper().startswith("P"):
        return value.strip()  # ISO 8601 (`PT10M`): pydantic parses it
    if isinstance(value, str):
        match = PATTERN.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration; write e.g. 90s, 10m, 1h, 7d or 2w")
        return timedelta(seconds=float(match.group(1)) * UNITS[match.group(2)])
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a text such as 10m")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("a duration cannot be negative")
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("the duration must be longer than zero")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_not_negative)]
PositiveDuration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]


def describe(value: timedelta) -> str:
    """The shortest exact spelling: 600s -> 10m, 86400s -> 1d."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m"):
        size = UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
