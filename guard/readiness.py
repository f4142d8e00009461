"""Is this Guard able to do its work right now? Five cheap checks, each `ok` or a short problem.

    database     a read works (and the database is migrated: the audit chain head exists)
    audit_write  an audit entry can really be appended: the append path runs in a write transaction
                 (SQLite: BEGIN IMMEDIATE, the write lock; PostgreSQL: the chain-head row lock) and is
                 rolled back. Entries take their seq from the head row, not from a sequence, so a
                 rolled-back probe leaves no gap and no trace in the chain.
    keys         the JWT and checkpoint signing keys and the master key file (which the content-token
                 key is derived from) exist, are owner-only and parse, read from disk now
    master_key   the master key in use opens the vault canary (guard.vault.store)
    disk         at least `readiness.min_free_disk_mb` is free under GUARD_HOME

No check scans anything: each is a few statements or a few small files. A check that fails in a way
nobody foresaw reports the exception's type instead of raising: readiness never errors.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from guard.audit.chain import canonical_body
from guard.audit.log import PendingEntry, append_to_chain
from guard.db import driver_cursor
from guard.errors import GuardError
from guard.keys.material import load_master_key
from guard.runtime import Runtime, master_key_override, read_keyring

OK = "ok"
PROBE_ACTOR = "guard"
PROBE_ACTION = "readiness.probe"
_MB = 1024 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    outcome: str  # OK, or what is wrong

    @property
    def ok(self) -> bool:
        return self.outcome == OK


def check_readiness(runtime: Runtime) -> list[Check]:
    """Every check's outcome, in a fixed order."""
    return [Check(name, _guarded(check, runtime)) for name, check in CHECKS]


def is_ready(checks: list[Check]) -> bool:
    return all(check.ok for check in checks)


def _guarded(check: Callable[[Runtime], str], runtime: Runtime) -> str:
    try:
        return check(runtime)
    except Exception as exc:  # readiness reports, it never fails
        return f"check failed: {_describe(exc)}"


def _describe(exc: BaseException) -> str:
    """A one-line description of an exception: its type and the first line of its message."""
    if isinstance(exc, GuardError):
        return exc.detail
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    message = lines[0][:200] if lines else ""
    return f"{type(cause).__name__}: {message}" if message else type(cause).__name__


def check_database(runtime: Runtime) -> str:
    try:
        with runtime.db.engine.connect() as connection:
            head = connection.execute(text("SELECT seq FROM audit_head WHERE id = 1")).scalar_one_or_none()
    except Exception as exc:
        return f"unreachable: {_describe(exc)}"
    return OK if head is not None else "not migrated: run `guard init`"


def check_audit_write(runtime: Runtime) -> str:
    """Append a probe entry exactly as a real append does, then roll it back."""
    now = datetime.now(UTC)
    entry = PendingEntry(ts=now, actor=PROBE_ACTOR, action=PROBE_ACTION, target="readiness", payload={})
    body = canonical_body(ts=now, actor=entry.actor, action=entry.action, target=entry.target, payload={})
    timeout_ms = runtime.settings.readiness.probe_timeout_ms
    sqlite = runtime.db.is_sqlite
    try:
        with runtime.db.engine.connect() as connection:
            if sqlite:
                _probe_sqlite(connection, entry, body, timeout_ms, runtime.settings.sqlite.busy_timeout_ms)
            else:
                _probe_postgres(connection, entry, body, timeout_ms)
    except Exception as exc:
        return f"the audit log cannot be written: {_describe(exc)}"
    return OK


def _probe_sqlite(
    connection: Connection, entry: PendingEntry, body: bytes, timeout_ms: int, usual_ms: int
) -> None:
    # The connection is pooled: wait for the write lock at most `timeout_ms`, then restore its usual wait.
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")
    try:
        transaction = connection.execution_options(sqlite_begin="IMMEDIATE").begin()
        try:
            with driver_cursor(connection, "audit write probe") as cursor:
                append_to_chain(cursor, [entry], [body], sqlite=True)
        finally:
            transaction.rollback()
    finally:
        try:
            driver.execute(f"PRAGMA busy_timeout={int(usual_ms)}")
        except Exception:
            connection.invalidate()  # never hand a connection with the short wait back to the pool


def _probe_postgres(connection: Connection, entry: PendingEntry, body: bytes, timeout_ms: int) -> None:
    transaction = connection.begin()
    try:
        # SET LOCAL ends with the transaction: the pooled connection keeps its usual settings.
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(timeout_ms)}")
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms) * 2}")
        with driver_cursor(connection, "audit write probe") as cursor:
            append_to_chain(cursor, [entry], [body], sqlite=False)
    finally:
        transaction.rollback()


def check_keys(runtime: Runtime) -> str:
    """This host's master key (read again) opens the signing keys in the database."""
    settings = runtime.settings
    try:
        master_key = load_master_key(settings.keys_path, override=master_key_override(settings))
        read_keyring(runtime.db, master_key)
    except GuardError as exc:
        return exc.detail
    except OSError as exc:
        return f"cannot read {exc.filename or settings.keys_path}: {exc.strerror or exc}"
    return OK


def check_master_key(runtime: Runtime) -> str:
    problem = runtime.vault.canary_problem()
    return OK if problem is None else problem


def check_disk(runtime: Runtime) -> str:
    home = runtime.settings.home
    minimum = runtime.settings.readiness.min_free_disk_mb
    try:
        free_mb = shutil.disk_usage(home).free // _MB
    except OSError as exc:
        return f"cannot measure free space under {home}: {exc.strerror or exc}"
    if free_mb < minimum:
        return f"{free_mb} MB free under {home}, below the minimum of {minimum} MB"
    return OK


CHECKS: tuple[tuple[str, Callable[[Runtime], str]], ...] = (
    ("database", check_database),
    ("audit_write", check_audit_write),
    ("keys", check_keys),
    ("master_key", check_master_key),
    ("disk", check_disk),
)
