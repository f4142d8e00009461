"""The ranges Guard accepts at its edges: times, dates and text.

Every time and date from the API or an inbox file is checked here before the domain does arithmetic on it,
so an entry dated year 1 cannot overflow a rule window or a report later. Text may not carry NUL or
control characters (PostgreSQL refuses NUL; the others hide what is really stored), and a reason must have
something visible in it.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime

from guard.errors import InvalidInput

EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(9999, 12, 30)  # a day short of the calendar's end, so any time zone still fits
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
RANGE = "between 1970-01-01 and 9999-12-30"
LINE_BREAKS = frozenset("\t\n\r")


def check_time(value: datetime, name: str) -> datetime:
    """`value` in UTC, or InvalidInput naming the field; a time without a zone is refused."""
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a timezone, such as 2026-03-02T09:00:00Z or +01:00")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(f"{name} must be {RANGE}") from None
    if not EARLIEST <= utc <= LATEST:
        raise InvalidInput(f"{name} must be {RANGE}; got {value.isoformat()}")
    return utc


def check_date(value: date, name: str) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise InvalidInput(f"{name} must be {RANGE}; got {value.isoformat()}")
    return value


def bad_character(value: str, *, multiline: bool = False) -> str | None:
    """The first NUL or control character in `value` (line breaks and tabs allowed when `multiline`)."""
    for char in value:
        if unicodedata.category(char) == "Cc" and not (multiline and char in LINE_BREAKS):
            return char
    return None


def check_text(value: str, name: str, *, multiline: bool = False) -> str:
    char = bad_character(value, multiline=multiline)
    if char is not None:
        raise InvalidInput(f"{name} may not contain control characters such as U+{ord(char):04X}")
    return value


def visible_length(value: str) -> int:
    """How many characters a reader can see: not spaces, not control or invisible format characters."""
    return sum(1 for char in value if unicodedata.category(char)[0] not in ("Z", "C"))


def require_reason(value: str, *, missing: str, limit: int = 500) -> str:
    """A reason for the record: it needs visible characters (spaces, NUL or zero-width ones are not a
    reason); runs of white space become one space and it is kept to `limit` characters."""
    if not visible_length(value):
        raise InvalidInput(missing)
    return " ".join(value.split())[:limit]
