"""Naming the damage at the first entry that does not check out.

Each stored entry carries `prev_hash` and `hash`, and `hash` commits to the entry's own seq. So an entry
that was moved keeps saying where it belongs: an entry at position p whose hash only fits seq p+d was moved
down (entries before it were deleted, or it was swapped with a later one); one that fits p-d was pushed up
by inserted entries. Rows near the break are enough to tell these apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from guard.audit.chain import entry_hash
from guard.audit.models import AuditEntry

WINDOW = 64  # how far an entry may have moved and still be recognised

MODIFIED, DELETED, INSERTED, REORDERED = "modified", "deleted", "inserted", "reordered"
TRUNCATED = "truncated"
REWRITTEN, BAD_SIGNATURE = "rewritten", "bad_signature"


@dataclass(frozen=True)
class Damage:
    first_bad_seq: int
    kind: str
    detail: str


@dataclass(frozen=True)
class _Row:
    seq: int
    prev_hash: str
    hash: str
    body: bytes | None

    def fits(self, seq: int, prev_hash: str | None = None) -> bool:
        """The row's hash is what seq `seq` after `prev_hash` (default: its own prev_hash) would give."""
        if self.body is None or seq < 1:
            return False
        try:
            return entry_hash(seq, prev_hash or self.prev_hash, self.body) == self.hash
        except (ValueError, TypeError):
            return False


def classify(connection: Connection, *, at: int, prev_hash: str, floor: int) -> Damage:
    """The entry at `at` does not continue the verified chain that ends in `prev_hash` at `at - 1`.

    `floor` is where verification started: nothing at or below it is blamed."""
    rows = _rows(connection, low=at, high=at + WINDOW)
    if not rows:
        return Damage(at, TRUNCATED, f"the log ends at entry {at - 1}, but entries up to a later seq existed")
    row = rows[0]
    if row.seq > at:
        return Damage(at, DELETED, f"entry {at} is missing: seq jumps from {at - 1} to {row.seq}")
    if row.fits(at):
        if row.prev_hash != prev_hash and at - 1 > floor:
            return Damage(
                at - 1,
                MODIFIED,
                f"entry {at - 1} was changed and re-hashed: entry {at} still links to its original hash",
            )
        return Damage(at, MODIFIED, f"entry {at} does not link to entry {at - 1}")
    belongs = _belongs_at(row, at)
    later = rows[1:]
    if belongs is not None and belongs > at:
        original = next((r for r in later if r.fits(at) and r.prev_hash == prev_hash), None)
        if original is not None:
            return Damage(
                at,
                REORDERED,
                f"entries were reordered: the entry at {at} belongs at {belongs}, "
                f"and the entry that belongs at {at} is at {original.seq}",
            )
        removed = belongs - at
        return Damage(
            at,
            DELETED,
            f"{removed} {'entry was' if removed == 1 else 'entries were'} removed at {at} "
            "and the later entries renumbered",
        )
    if belongs is not None and belongs < at:
        first = max(belongs, floor + 1)
        return Damage(
            first,
            INSERTED,
            f"{at - belongs} {'entry was' if at - belongs == 1 else 'entries were'} inserted at {first}: "
            f"the entry now at {at} belongs at {belongs}",
        )
    swapped = next(
        (
            r
            for r in [*_rows(connection, low=max(floor + 1, at - WINDOW), high=at - 1), *later]
            if r.body is not None and _Row(at, prev_hash, row.hash, r.body).fits(at)
        ),
        None,
    )
    if swapped is not None:
        return Damage(
            at,
            REORDERED,
            f"entries were reordered: the content that belongs at {at} is stored at {swapped.seq}",
        )
    following = later[0] if later and later[0].seq == at + 1 else None
    if following is not None and following.fits(at) and following.prev_hash == prev_hash:
        return Damage(
            at, INSERTED, f"entry {at} is not part of the chain: the original entry {at} follows it"
        )
    return Damage(at, MODIFIED, f"entry {at} was changed: its content does not match its hash")


def _belongs_at(row: _Row, at: int) -> int | None:
    """The seq this row's hash was computed for, if it was moved no further than WINDOW."""
    for distance in range(1, WINDOW + 1):
        for candidate in (at + distance, at - distance):
            if row.fits(candidate):
                return candidate
    return None


def _rows(connection: Connection, *, low: int, high: int) -> list[_Row]:
    if high < low:
        return []
    table = AuditEntry.__table__
    result = connection.execute(
        select(table.c.seq, table.c.prev_hash, table.c.hash, table.c.body)
        .where(table.c.seq >= low, table.c.seq <= high)
        .order_by(table.c.seq)
    )
    return [_Row(int(r.seq), r.prev_hash or "", r.hash or "", _bytes(r.body)) for r in result]


def _bytes(value: Any) -> bytes | None:
    return value.encode() if isinstance(value, str) else None
