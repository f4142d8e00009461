"""The fast part of verification: walk the chain in seq order, find the first entry that does not fit.

The walk itself is `guard.audit.walk`. On a SQLite file a long walk is cut into one stretch per core:
this process checks the first, `python -m guard.audit.walk` helpers check the others, and the stretches
are joined in seq order (each one starts from the stored hash its predecessor must end in). PostgreSQL
stores copies of actor, action, target and ts beside the hashed body; one SQL statement, evaluated on its
own connection in a second thread, checks them while the walk runs. On SQLite the database derives them
from the body, so verify checks the table definition instead (`definition_changed`).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence

import orjson
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError

from guard.audit.chain import format_ts
from guard.audit.models import SQLITE_ENTRIES_DDL, AuditEntry
from guard.audit.walk import BATCH, SQLITE_MMAP_BYTES, Stretch, walk
from guard.db import driver_cursor

log = logging.getLogger("guard.audit")

# Below this many entries a helper process costs more than it saves.
PARALLEL_FROM = 100_000

# The first entry whose stored columns disagree with what its hashed body says.
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


Scan = Stretch  # a whole walk: the joined stretches


def scan_chain(
    connection: Connection,
    *,
    start: int,
    start_hash: str,
    stop: int,
    wanted: Sequence[int] = (),
    progress: Callable[[int], None] | None = None,
    batch: int = BATCH,
    parallel_from: int | None = None,
    parts: int | None = None,
) -> Scan:
    """Check entries start+1..stop against the chain that ends in `start_hash` at `start`.

    A SQLite file with at least `parallel_from` entries to check (default PARALLEL_FROM) is cut into
    `parts` stretches (default: one per core)."""
    sqlite = connection.dialect.name == "sqlite"
    # A database error on the way is SQLAlchemy's, so callers answer 503 as for any other query.
    with driver_cursor(connection, "walking the audit chain") as cursor:
        if sqlite:
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        stretches = _plan(
            connection,
            start=start,
            start_hash=start_hash,
            stop=stop,
            at_least=PARALLEL_FROM if parallel_from is None else parallel_from,
            parts=min(os.cpu_count() or 1, 8) if parts is None else parts,
        )
        helpers = [_Helper(connection, piece, wanted) for piece in stretches[1:]]
        first_start, first_hash, first_stop = stretches[0]
        results: list[Stretch] = []
        try:
            results.append(
                walk(
                    cursor,
                    dialect="sqlite" if sqlite else "postgresql",
                    start=first_start,
                    start_hash=first_hash,
                    stop=first_stop,
                    wanted=wanted,
                    progress=progress,
                    batch=batch,
                )
            )
            for helper in helpers:
                if results[-1].problem_at is not None:
                    break  # an earlier stretch holds the first problem: the rest do not matter
                results.append(helper.result(cursor, progress))
        finally:
            for helper in helpers:
                helper.cancel()  # no-op for the ones that answered
    return _join(results)


def _plan(
    connection: Connection, *, start: int, start_hash: str, stop: int, at_least: int, parts: int
) -> list[tuple[int, str, int]]:
    """(start, start_hash, stop) per stretch: `parts` of them for a long walk over a SQLite file."""
    whole = [(start, start_hash, stop)]
    if _sqlite_file(connection) is None or parts < 2 or stop - start < max(at_least, parts):
        return whole
    bounds = [start + (stop - start) * k // parts for k in range(parts + 1)]
    table = AuditEntry.__table__
    rows = connection.execute(select(table.c.seq, table.c.hash).where(table.c.seq.in_(bounds[1:-1]))).all()
    stored = {int(seq): digest for seq, digest in rows}
    if any(not isinstance(stored.get(b), str) or len(stored[b]) != 64 for b in bounds[1:-1]):
        return whole  # a boundary entry is missing or damaged: one walk finds and names it
    hashes = [start_hash, *(stored[b] for b in bounds[1:-1])]
    return [(bounds[k], hashes[k], bounds[k + 1]) for k in range(parts)]


def _sqlite_file(connection: Connection) -> str | None:
    if connection.dialect.name != "sqlite":
        return None
    database = connection.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database)


class _Helper:
    """One stretch checked by `python -m guard.audit.walk`; if the helper fails, this process walks it."""

    def __init__(self, connection: Connection, piece: tuple[int, str, int], wanted: Sequence[int]) -> None:
        self.start, self.start_hash, self.stop = piece
        self.wanted = [w for w in wanted if self.start < w <= self.stop]
        request = {
            "database": _sqlite_file(connection),
            "start": self.start,
            "start_hash": self.start_hash,
            "stop": self.stop,
            "wanted": self.wanted,
        }
        self.process: subprocess.Popen[bytes] | None = None
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "guard.audit.walk"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            # Sent now, so the helper works while this process walks its own stretch.
            stdin, self.process.stdin = self.process.stdin, None  # communicate() then only reads
            assert stdin is not None
            with stdin:
                stdin.write(orjson.dumps(request))
        except OSError as exc:  # no helper, or it is gone already: result() walks the stretch here
            log.warning("an audit walk helper could not start: %s", exc)

    def _answer(self) -> Stretch:
        if self.process is None:
            raise ValueError("no helper process")
        out, err = self.process.communicate()
        if self.process.returncode != 0:
            raise ValueError(err.decode(errors="replace").strip()[-500:])
        answer = orjson.loads(out)
        stretch = Stretch(
            start=int(answer["start"]),
            end=int(answer["end"]),
            end_hash=str(answer["end_hash"]),
            problem_at=None if answer["problem_at"] is None else int(answer["problem_at"]),
            hashes={int(k): str(v) for k, v in answer["hashes"].items()},
        )
        if stretch.start != self.start or not self.start <= stretch.end <= self.stop:
            raise ValueError(f"an answer for entries {stretch.start}..{stretch.end}, not this stretch")
        return stretch

    def result(self, cursor: object, progress: Callable[[int], None] | None) -> Stretch:
        try:
            stretch = self._answer()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("an audit walk helper failed (%s); checking its stretch here", exc)
            return walk(
                cursor,
                dialect="sqlite",
                start=self.start,
                start_hash=self.start_hash,
                stop=self.stop,
                wanted=self.wanted,
                progress=progress,
            )
        if progress is not None:
            progress(stretch.end - stretch.start)
        return stretch

    def cancel(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            self.process.communicate()


def _join(stretches: list[Stretch]) -> Scan:
    """Stretches in seq order; the first problem ends the scan."""
    joined = Scan(start=stretches[0].start, end=stretches[0].end, end_hash=stretches[0].end_hash)
    for stretch in stretches:
        joined.hashes.update(stretch.hashes)
        joined.end, joined.end_hash = stretch.end, stretch.end_hash
        if stretch.problem_at is not None:
            joined.problem_at = stretch.problem_at
            break
    return joined


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
    with engine.connect() as connection:
        return column_mismatch(connection, start=start, stop=stop)


def column_mismatch(connection: Connection, *, start: int, stop: int) -> int | None:
    """The first entry in (start, stop] whose actor, action, target or ts column disagrees with its body."""
    dialect = "sqlite" if connection.dialect.name == "sqlite" else "postgresql"
    params = {"start": start, "stop": stop}
    try:
        with connection.begin_nested():
            value = connection.execute(text(_COLUMNS_SQL[dialect]), params).scalar()
        return int(value) if value is not None else None
    except DBAPIError:
        # A body that is not JSON at all stops the SQL check: check in Python instead.
        return _python_column_mismatch(connection, start=start, stop=stop)


def definition_changed(connection: Connection) -> bool:
    """SQLite: the entries table is no longer the one whose columns the database derives from the body."""
    found = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'audit_entries'"
    ).scalar()
    return found != SQLITE_ENTRIES_DDL


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
