"""HR speaks in local dates; Guard enforces in UTC instants. The configured zone and workday end convert."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from guard.errors import InvalidInput
from guard.settings import HrSettings


def parse_date(value: str, *, field: str) -> date:
    """ISO dates (2026-03-20); a full ISO timestamp is accepted and its date kept."""
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise InvalidInput(f"{field} {value!r} is not a date; use YYYY-MM-DD") from None


def today(hr: HrSettings, now: datetime) -> date:
    return now.astimezone(ZoneInfo(hr.timezone)).date()


def start_of(hr: HrSettings, day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(hr.timezone)).astimezone(UTC)


def end_of_workday(hr: HrSettings, day: date) -> datetime:
    """The instant a last working day ends: credentials are refused from then on."""
    end = datetime.combine(day, hr.workday_end, tzinfo=ZoneInfo(hr.timezone))
    if hr.workday_end == time(0, 0):  # "00:00" means the end of the day, not its start
        end += timedelta(days=1)
    return end.astimezone(UTC)
