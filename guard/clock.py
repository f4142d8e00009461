"""Time source. Services take `now` as an argument; the app and CLI read it from a Clock.

A clock file (test and drill use only) lets a running server be moved forward in time without
sleeping: the file holds an offset in seconds that is added to the system time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetFileClock(Clock):
    """System time plus the number of seconds written in `path` (0 when the file is absent)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> datetime:
        try:
            offset = float(self.path.read_text().strip() or 0)
        except FileNotFoundError:
            offset = 0.0
        return datetime.now(UTC) + timedelta(seconds=offset)


class FixedClock(Clock):
    """A clock that only moves when told to; for tests in the same process."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


def make_clock(offset_file: Path | None) -> Clock:
    return OffsetFileClock(offset_file) if offset_file else Clock()
