"""The fast part of verification: walk the chain in seq order, find the first entry that does not fit.

Speed matters (millions of entries), so the walk reads body, hash and prev_hash in batches through the
driver's own cursor, hashes each batch in a tight loop and compares a whole batch with one string comparison.
The consistency of the indexed copies (actor, action, target, ts) with the hashed body is checked
by one SQL statement that the database evaluates on its own connection in a second thread: SQLite and
PostgreSQL both work without holding Python's GIL, so the two checks overlap.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError

from guard.audit.chain import DOMAIN_TAG, format_ts
from guard.audit.models import AuditEntry

BATCH = 2000
_PREFIX = struct.Struct(f">{len(DOMAIN_TAG)}sQ32s").pack
_SHA256 = hashlib.sha256

_SQL = {
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
# Reads go through the page cache either way; mapping the file saves a copy per page on long scans.
SQLITE_MMAP_BYTES = 1 << 30

# The first entry whose indexed columns disagree with what its hashed body says.
_COLUMNS_SQL = {
    # A body that is not JSON at all makes the statement fail; the Python check then takes over.
    "sqlite": """
SELECT min(seq) FROM audit_entries WHERE seq > :start AND seq <= :stop AND (
     json_extract(body, '$.actor') IS NOT actor OR json_extract(body, '$.action') IS NOT action
  OR json_extract(body, '$.target') IS NOT target
  OR json_extract(body, '$.ts') IS NOT (replace(ts, ' ', 'T') || '+00:00'))
""",
    # json_to_record parses each body once and builds nothing else: three times faster than ::jsonb.
    "postgresql": """
SELECT min(e.seq) FROM audit_entries AS e,
  json_to_record(e.body::json) AS doc(actor text, action text, target text, ts text)
WHERE e.seq > :start AND e.seq <= :stop AND (
     doc.actor IS DISTINCT FROM e.actor OR doc.action IS DISTINCT FROM e.action
  OR doc.target IS DISTINCT FROM e.target
  OR doc.ts IS DISTINCT FROM to_char(e.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00')
""",
}


@dataclass
class Scan:
    """Entries start+1..end check out; `problem_at` is the first one that does not (None: all of them)."""

    start: int
    end: int
    end_hash: str
    problem_at: int | None = None
    hashes: dict[int, str] = field(default_factory=dict)  # stored hash at each wanted seq that checked out


def scan_chain(
    connection: Connection,
    *,
    start: int,
    start_hash: str,
    stop: int,
    wanted: Sequence[int] = (),
    progress: Callable[[int], None] | None = None,
    batch: int = BATCH,
) -> Scan:
    """Check entries start+1..stop against the chain that ends in `start_hash` at `start`."""
    sqlite = connection.dialect.name == "sqlite"
    fast_sql, seq_sql = _SQL["sqlite" if sqlite else "postgresql"]
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    if sqlite:
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    scan = Scan(start=start, end=start, end_hash=start_hash)
    targets = sorted(w for w in wanted if start < w <= stop)
    pointer = 0
    prev = bytes.fromhex(start_hash)
    last = start
    try:
        while last < stop:
            high = min(last + batch, stop)
            cursor.execute(fast_sql, (last, high))
            rows = cursor.fetchall()
            checked = _check_batch(
                rows, last=last, high=high, prev=prev, link=scan.end_hash, text_bodies=not sqlite
            )
            if checked is None:  # a gap, a NULL or a malformed value: look row by row
                rows = _fetch(cursor, seq_sql, last, high)
                checked = _check_rows(rows, last=last, high=high, prev=prev, link=scan.end_hash)
            digests, hashes, bad = checked
            good = len(digests) if bad is None else bad - last - 1
            while pointer < len(targets) and targets[pointer] <= last + good:
                scan.hashes[targets[pointer]] = hashes[targets[pointer] - last - 1]
                pointer += 1
            if good:
                scan.end, scan.end_hash = last + good, hashes[good - 1]
                prev = digests[good - 1]
            if progress is not None:
                progress(good)
            if bad is not None:
                scan.problem_at = bad
                return scan
            last = high
    finally:
        cursor.close()
    return scan


def _fetch(cursor: Any, sql: str, low: int, high: int) -> list[Any]:
    cursor.execute(sql, (low, high))
    return list(cursor.fetchall())


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


class ColumnCheck:
    """Runs the column-consistency statement for (start, stop] on its own connection in a thread."""

    def __init__(self, engine: Engine, *, start: int, stop: int) -> None:
        self._engine = engine
        self._start, self._stop = start, stop
        self._result: int | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="guard-audit-columns", daemon=True)

    def start(self) -> ColumnCheck:
        if self._stop > self._start:
            self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._result = first_column_mismatch(self._engine, start=self._start, stop=self._stop)
        except BaseException as exc:  # re-raised in result()
            self._error = exc

    def result(self) -> int | None:
        if self._thread.ident is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


def first_column_mismatch(engine: Engine, *, start: int, stop: int) -> int | None:
    dialect = "sqlite" if engine.dialect.name == "sqlite" else "postgresql"
    params = {"start": start, "stop": stop}
    with engine.connect() as connection:
        try:
            value = connection.execute(text(_COLUMNS_SQL[dialect]), params).scalar()
            return int(value) if value is not None else None
        except DBAPIError:
            # A body that is not JSON at all stops the SQL check: check in Python instead.
            connection.rollback()
            return _python_column_mismatch(connection, start=start, stop=stop)


def _python_column_mismatch(connection: Connection, *, start: int, stop: int) -> int | None:
    table = AuditEntry.__table__
    last = start
    while last < stop:
        rows = connection.execute(
            select(
                table.c.seq,
                table.c.ts,
                table.c.actor,
                table.c.action,
                table.c.target,
                table.c.body,
            )
            .where(table.c.seq > last, table.c.seq <= min(last + BATCH, stop))
            .order_by(table.c.seq)
        ).all()
        if not rows:
            return None
        for row in rows:
            try:
                doc = orjson.loads(row.body)
                same = (
                    isinstance(doc, dict)
                    and doc.get("actor") == row.actor
                    and doc.get("action") == row.action
                    and doc.get("target") == row.target
                    and doc.get("ts") == format_ts(row.ts)
                )
            except (orjson.JSONDecodeError, TypeError, ValueError):
                same = False
            if not same:
                return int(row.seq)
        last = rows[-1].seq
    return None
