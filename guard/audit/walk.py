"""Walking one stretch of the chain, on any DB-API cursor; also a helper process for SQLite files.

Speed matters (millions of entries), so the walk reads body, hash and prev_hash in batches, hashes each
batch in a tight loop and compares a whole batch with one string comparison; anything irregular (a gap,
a NULL, a malformed value) sends the batch through the row-by-row check, which finds the exact seq.

Every entry stores the hash it follows, so stretches of the chain can be checked independently and
joined: `python -m guard.audit.walk` reads one stretch's request as JSON on stdin and answers on stdout.
Verify runs one per spare core on SQLite files. It imports next to nothing, so a helper starts in
milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from guard.audit.chain import DOMAIN_TAG

BATCH = 2000
# Reads go through the page cache either way; mapping the file saves a copy per page on long scans.
SQLITE_MMAP_BYTES = 1 << 30
_PREFIX = struct.Struct(f">{len(DOMAIN_TAG)}sQ32s").pack
_SHA256 = hashlib.sha256

SQL = {
    "sqlite": (
        "SELECT CAST(body AS BLOB), hash, prev_hash FROM audit_entries "
        "WHERE seq > ? AND seq <= ? ORDER BY seq",
        "SELECT seq, CAST(body AS BLOB), hash, prev_hash FROM audit_entries "
        "WHERE seq > ? AND seq <= ? ORDER BY seq",
    ),
    # Text, encoded in Python: cheaper than bytea, which travels hex-encoded.
    "postgresql": (
        "SELECT body, hash, prev_hash FROM audit_entries WHERE seq > %s AND seq <= %s ORDER BY seq",
        "SELECT seq, body, hash, prev_hash FROM audit_entries WHERE seq > %s AND seq <= %s ORDER BY seq",
    ),
}


@dataclass
class Stretch:
    """Entries start+1..end check out; `problem_at` is the first one that does not (None: all of them)."""

    start: int
    end: int
    end_hash: str
    problem_at: int | None = None
    hashes: dict[int, str] = field(default_factory=dict)  # stored hash at each wanted seq that checked out


def walk(
    cursor: Any,
    *,
    dialect: str,
    start: int,
    start_hash: str,
    stop: int,
    wanted: Sequence[int] = (),
    progress: Callable[[int], None] | None = None,
    batch: int = BATCH,
) -> Stretch:
    """Check entries start+1..stop against the chain that ends in `start_hash` at `start`."""
    fast_sql, seq_sql = SQL[dialect]
    stretch = Stretch(start=start, end=start, end_hash=start_hash)
    targets = sorted(w for w in wanted if start < w <= stop)
    pointer = 0
    prev = bytes.fromhex(start_hash)
    last = start
    while last < stop:
        high = min(last + batch, stop)
        cursor.execute(fast_sql, (last, high))
        rows = cursor.fetchall()
        checked = _check_batch(
            rows, last=last, high=high, prev=prev, link=stretch.end_hash, text_bodies=dialect != "sqlite"
        )
        if checked is None:
            cursor.execute(seq_sql, (last, high))
            checked = _check_rows(cursor.fetchall(), last=last, high=high, prev=prev, link=stretch.end_hash)
        digests, hashes, bad = checked
        good = len(digests) if bad is None else bad - last - 1
        while pointer < len(targets) and targets[pointer] <= last + good:
            stretch.hashes[targets[pointer]] = hashes[targets[pointer] - last - 1]
            pointer += 1
        if good:
            stretch.end, stretch.end_hash = last + good, hashes[good - 1]
            prev = digests[good - 1]
        if progress is not None:
            progress(good)
        if bad is not None:
            stretch.problem_at = bad
            return stretch
        last = high
    return stretch


def _check_batch(
    rows: list[Any], *, last: int, high: int, prev: bytes, link: str, text_bodies: bool
) -> tuple[list[bytes], Sequence[str], int | None] | None:
    """The fast path: every seq present, every value well-formed. None sends the batch to `_check_rows`.

    Each entry's hash must be what its seq, body and the previous hash give, and its stored prev_hash
    must name the previous entry's hash; both are compared for the whole batch at once."""
    if len(rows) != high - last:
        return None
    try:
        bodies, hashes, links = zip(*rows, strict=True)
        if text_bodies:
            bodies = tuple(map(str.encode, bodies))
        digests: list[bytes] = []
        append = digests.append
        for seq, body in enumerate(bodies, last + 1):
            prev = _SHA256(_PREFIX(DOMAIN_TAG, seq, prev) + body).digest()
            append(prev)
        if b"".join(digests).hex() == "".join(hashes) and "".join(links) == link + "".join(hashes[:-1]):
            return digests, hashes, None
    except (TypeError, ValueError):
        return None
    expected_link = link
    for index, (digest, stored, stored_link) in enumerate(zip(digests, hashes, links, strict=True)):
        if digest.hex() != stored or stored_link != expected_link:
            return digests, hashes, last + 1 + index
        expected_link = stored
    return digests, hashes, None  # pragma: no cover - the joined strings differed, so one entry does


def _check_rows(
    rows: list[Any], *, last: int, high: int, prev: bytes, link: str
) -> tuple[list[bytes], list[str], int | None]:
    digests: list[bytes] = []
    hashes: list[str] = []
    expected = last + 1
    for seq, raw_body, stored, stored_link in rows:
        body = raw_body.encode() if isinstance(raw_body, str) else raw_body
        if seq != expected or not isinstance(body, bytes | memoryview) or not isinstance(stored, str):
            return digests, hashes, expected
        prev = _SHA256(_PREFIX(DOMAIN_TAG, seq, prev) + bytes(body)).digest()
        if prev.hex() != stored or stored_link != link:
            return digests, hashes, expected
        digests.append(prev)
        hashes.append(stored)
        link = stored
        expected += 1
    return digests, hashes, expected if expected <= high else None


def open_sqlite(path: str) -> sqlite3.Connection:
    """A reading connection to a Guard SQLite file, mapped into memory for the long scan."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA query_only=ON")
    connection.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    return connection


def main() -> None:
    """Helper process: {"database", "start", "start_hash", "stop", "wanted"} in, a Stretch out."""
    request = json.load(sys.stdin)
    connection = open_sqlite(request["database"])
    try:
        # One read transaction: the whole stretch comes from one snapshot.
        connection.execute("BEGIN")
        stretch = walk(
            connection.cursor(),
            dialect="sqlite",
            start=request["start"],
            start_hash=request["start_hash"],
            stop=request["stop"],
            wanted=request["wanted"],
        )
    finally:
        connection.close()
    json.dump(asdict(stretch), sys.stdout)


if __name__ == "__main__":
    main()
