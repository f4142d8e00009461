"""A per-person sliding time window: weights, distinct values and evidence of the events inside it.

The window ends at the newest timestamp seen (its watermark). Entries arrive in sequence order, which is
nearly but not exactly time order (external systems send their own timestamps), so a late event is put in
its place and counts if it is still inside the window.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from guard.policies.rules.base import MAX_EVIDENCE


class SlidingWindow:
    __slots__ = ("distinct", "items", "span", "total", "watermark")

    def __init__(self, span: timedelta) -> None:
        self.span = span
        self.items: deque[tuple[datetime, int, int, tuple[str, ...]]] = deque()
        self.total = 0
        self.distinct: dict[str, int] = {}
        self.watermark: datetime | None = None

    def add(self, ts: datetime, seq: int, weight: int = 1, values: tuple[str, ...] = ()) -> None:
        item = (ts, seq, weight, values)
        if not self.items or ts >= self.items[-1][0]:
            self.items.append(item)
        else:
            index = len(self.items)
            while index > 0 and self.items[index - 1][0] > ts:
                index -= 1
            self.items.insert(index, item)
        self.total += weight
        distinct = self.distinct
        for value in values:
            distinct[value] = distinct.get(value, 0) + 1
        if self.watermark is None or ts > self.watermark:
            self.watermark = ts
        self._evict(self.watermark - self.span)

    def _evict(self, cutoff: datetime) -> None:
        # An event exactly one span older than the newest is outside: windows are half-open (start, end].
        while self.items and self.items[0][0] <= cutoff:
            _, _, weight, values = self.items.popleft()
            self.total -= weight
            for value in values:
                left = self.distinct[value] - 1
                if left:
                    self.distinct[value] = left
                else:
                    del self.distinct[value]

    def evidence(self) -> tuple[int, ...]:
        """The seqs of the most recent entries in the window, in time order."""
        items = self.items
        start = max(len(items) - MAX_EVIDENCE, 0)
        return tuple(items[i][1] for i in range(start, len(items)))

    def __len__(self) -> int:
        return len(self.items)


class WindowsByPerson(dict[str, SlidingWindow]):
    """One sliding window per person, opened on the person's first event."""

    def __init__(self, span: timedelta) -> None:
        super().__init__()
        self.span = span

    def __missing__(self, person: str) -> SlidingWindow:
        window = self[person] = SlidingWindow(self.span)
        return window
