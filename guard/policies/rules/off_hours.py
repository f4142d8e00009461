"""`off_hours`: activity outside working hours or working days, in the organisation's time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator

from guard.policies.rules.base import Finding
from guard.policies.rules.durations import PositiveDuration, describe
from guard.policies.rules.events import Event
from guard.policies.rules.windowed import WindowedConfig, WindowedRule

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class OffHoursConfig(WindowedConfig):
    timezone: str = Field("UTC", description="IANA name, e.g. Europe/Paris")
    start: time = Field(time(7, 0), description="working hours start (local time, HH:MM)")
    end: time = Field(time(20, 0), description="working hours end; earlier than start means overnight")
    days: list[Day] = Field(["mon", "tue", "wed", "thu", "fri"], min_length=1)
    threshold: int = Field(1, ge=1, description="off-hours events within the window needed to alert")
    window: PositiveDuration = Field(timedelta(hours=1))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known time zone (use an IANA name like Europe/Paris)"
            ) from None
        return value

    @field_validator("end")
    @classmethod
    def _not_empty(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("start")
        if start is not None and start == value:
            raise ValueError("end must differ from start")
        return value


class OffHours(WindowedRule[OffHoursConfig]):
    name = "off_hours"
    config_model = OffHoursConfig

    def __init__(self, config: OffHoursConfig) -> None:
        super().__init__(config)
        self.zone = ZoneInfo(config.timezone)
        self.days = frozenset(DAYS.index(d) for d in config.days)

    def is_working_time(self, ts: datetime) -> bool:
        local = ts.astimezone(self.zone)
        clock, start, end = local.time(), self.config.start, self.config.end
        if start < end:
            return local.weekday() in self.days and start <= clock < end
        # Overnight shift: the part after midnight belongs to the previous day's shift.
        if clock >= start:
            return local.weekday() in self.days
        return clock < end and (local.weekday() - 1) % 7 in self.days

    def observe(self, event: Event) -> Finding | None:
        if self.is_working_time(event.ts):
            return None
        cfg = self.config
        window = self.windows[event.actor]
        window.add(event.ts, event.seq)
        if window.total < cfg.threshold:
            return None
        local = event.ts.astimezone(self.zone)
        return self.finding(
            event,
            window,
            observed=window.total,
            summary=(
                f"{event.actor}: {window.total} events outside working hours within {describe(cfg.window)}, "
                f"latest {local:%a %H:%M} {cfg.timezone} (working {', '.join(cfg.days)} "
                f"{cfg.start:%H:%M}-{cfg.end:%H:%M})"
            ),
        )
