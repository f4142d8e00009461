"""Appending to the audit log.

`record()` stages an entry on the caller's session; the entries are chained and inserted when that
session commits (a `before_commit` hook), under the chain-head lock. Taking the head lock last, just
before commit, keeps it short and means no other row lock is ever requested while it is held, so
appends cannot deadlock with business updates. If the insert fails, the commit fails and the business
change rolls back with it: nothing happens without its audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from guard.audit.chain import DOMAIN_TAG, canonical_body, entry_hash
from guard.db import driver_cursor
from guard.errors import Unavailable

PENDING_KEY = "guard.audit.pending"
CREDENTIAL_KEY = "guard.audit.credential"
HEAD_ID = 1

# Appends run on every audited transaction, and under concurrency the head lock is held from the head
# read to the commit. So the three statements go straight to the driver's cursor, inside the session's
# own transaction: SQLAlchemy's per-statement machinery cost more than the statements themselves.
# The head row is HEAD_ID (1).
_SQLITE = {
    "read_head": "SELECT seq, hash FROM audit_head WHERE id = 1",
    # ts, actor, action and target are derived from the body by SQLite itself.
    "insert": "INSERT INTO audit_entries (seq, body, prev_hash, hash) VALUES (?, ?, ?, ?)",
    "move_head": "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
}
_POSTGRES = {
    "read_head": "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
    "insert": "INSERT INTO audit_entries (seq, body, prev_hash, hash, ts, actor, action, target) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
    "move_head": "UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1",
}
# PostgreSQL, one entry (the usual case): one statement locks the head row, hashes the entry exactly as
# guard.audit.chain.entry_hash does (SHA-256 over the domain tag, the 8-byte big-endian seq, the previous
# hash's bytes and the UTF-8 body), inserts it and moves the head. The lock is then held for that one
# round trip and the commit, not for a read, a hash in Python and a write.
_POSTGRES_APPEND_ONE = """
WITH head AS (SELECT seq + 1 AS seq, hash AS prev_hash FROM audit_head WHERE id = 1 FOR UPDATE),
entry AS (
    SELECT seq, prev_hash, encode(
        sha256(%(tag)s || int8send(seq) || decode(prev_hash, 'hex') || convert_to(%(body)s, 'UTF8')), 'hex'
    ) AS hash
    FROM head
),
moved AS (UPDATE audit_head SET seq = entry.seq, hash = entry.hash FROM entry WHERE audit_head.id = 1)
INSERT INTO audit_entries (seq, body, prev_hash, hash, ts, actor, action, target)
SELECT seq, %(body)s, prev_hash, hash, %(ts)s, %(actor)s, %(action)s, %(target)s FROM entry
RETURNING seq, hash
"""
_NO_HEAD = "the audit log has no chain head; run `guard init` to migrate the database"


@dataclass
class PendingEntry:
    ts: datetime
    actor: str
    action: str
    target: str
    payload: dict[str, Any]
    seq: int | None = field(default=None)
    hash: str | None = field(default=None)
    # The innermost SAVEPOINT open when the entry was staged: rolling that savepoint back drops the entry,
    # rolling back another one leaves it.
    savepoint: Any = field(default=None, repr=False, compare=False)


_hooked = False


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    target: str = "",
    payload: dict[str, Any] | None = None,
    ts: datetime | None = None,
) -> PendingEntry:
    """Stage one audit entry in the caller's transaction. Its `seq` is known once the session commits.
    Without the commit hook nothing would ever be written, so that is refused (fail closed)."""
    if not _hooked:
        raise Unavailable("the audit log's commit hook is not installed; nothing can be recorded")
    body = {key: capped(value) for key, value in (payload or {}).items()}
    credential = session.info.get(CREDENTIAL_KEY)
    if credential is not None:
        body["auth"] = credential  # Guard's word on how the actor authenticated, never a caller's
    entry = PendingEntry(
        ts=(ts or datetime.now(UTC)).astimezone(UTC),
        actor=capped(actor, limit=NAME_LIMIT),
        action=action,
        target=capped(target, limit=NAME_LIMIT),
        payload=body,
        savepoint=session.get_nested_transaction(),
    )
    session.info.setdefault(PENDING_KEY, []).append(entry)
    return entry


# An entry is append-only and kept for years: no text a client sent is stored whole if it is long (a 3 MB
# User-Agent on a failed refresh would otherwise be 3 MB in the log). Every field Guard validates stays
# under these limits, so only what nobody checked is cut, and the cut is marked.
FIELD_LIMIT = 1024
NAME_LIMIT = 300


def capped(value: Any, *, limit: int = FIELD_LIMIT) -> Any:
    """`value` with every string longer than `limit` cut to it and marked as cut (lists and dicts too)."""
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        return f"{value[:limit]}…[cut {len(value) - limit} characters]"
    if isinstance(value, dict):
        return {capped(k, limit=NAME_LIMIT): capped(v, limit=limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [capped(item, limit=limit) for item in value]
    return value


def act_with(session: Session, credential: dict[str, Any] | None) -> None:
    """Every entry recorded in `session` from now on names `credential` (how the actor authenticated: a
    session, an API key, the host) under `auth`; None for work no credential stands behind."""
    if credential is None:
        session.info.pop(CREDENTIAL_KEY, None)
    else:
        session.info[CREDENTIAL_KEY] = credential


def discard_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def staged_count(session: Session) -> int:
    """How many entries the session has staged so far (a mark for `discard_staged_after`)."""
    return len(session.info.get(PENDING_KEY, ()))


def discard_staged_after(session: Session, mark: int) -> None:
    """Drop the entries staged after `mark`: for a caller that rolled back to a savepoint of its own
    on the driver (see guard.access.batch), which SQLAlchemy's savepoint events do not see."""
    pending: list[PendingEntry] = session.info.get(PENDING_KEY, [])
    del pending[mark:]


def flush_pending(session: Session) -> list[PendingEntry]:
    """Chain and insert the staged entries now (normally called by the commit hook)."""
    pending: list[PendingEntry] = session.info.pop(PENDING_KEY, [])
    if not pending:
        return []
    session.flush()
    # Everything that does not need the previous hash is done before taking the lock: under
    # concurrency the lock is held from here to the end of the commit.
    bodies = [
        canonical_body(ts=e.ts, actor=e.actor, action=e.action, target=e.target, payload=e.payload)
        for e in pending
    ]
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    with driver_cursor(connection, "audit append") as cursor:
        append_to_chain(cursor, pending, bodies, sqlite=sqlite)
    return pending


def append_to_chain(cursor: Any, pending: list[PendingEntry], bodies: list[bytes], *, sqlite: bool) -> None:
    """The append itself, on a driver cursor inside an open transaction (SQLite: holding the write lock)."""
    if len(pending) == 1 and not sqlite:
        _append_one_postgres(cursor, pending[0], bodies[0])
        return
    sql = _SQLITE if sqlite else _POSTGRES
    # SQLite: BEGIN IMMEDIATE already holds the write lock; PostgreSQL: lock the one head row.
    cursor.execute(sql["read_head"])
    head = cursor.fetchone()
    if head is None:
        raise Unavailable(_NO_HEAD)
    seq, prev = head
    rows = []
    for entry, body in zip(pending, bodies, strict=True):
        seq += 1
        digest = entry_hash(seq, prev, body)
        row: tuple[Any, ...] = (seq, body.decode(), prev, digest)
        if not sqlite:  # PostgreSQL stores copies of what the body says
            row += (entry.ts, entry.actor, entry.action, entry.target)
        rows.append(row)
        entry.seq, entry.hash = seq, digest
        prev = digest
    cursor.executemany(sql["insert"], rows)
    cursor.execute(sql["move_head"], (seq, prev))


def _append_one_postgres(cursor: Any, entry: PendingEntry, body: bytes) -> None:
    params = {
        "tag": DOMAIN_TAG,
        "body": body.decode(),
        "ts": entry.ts,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
    }
    cursor.execute(_POSTGRES_APPEND_ONE, params)
    appended = cursor.fetchone()
    if appended is None:
        raise Unavailable(_NO_HEAD)
    entry.seq, entry.hash = appended


def _before_commit(session: Session) -> None:
    # SQLAlchemy also calls this when a SAVEPOINT is released: the entries are chained only by the outer
    # commit, so a savepoint rolled back later cannot take entries staged outside it down with it.
    if session.info.get(PENDING_KEY) and not session.in_nested_transaction():
        flush_pending(session)


def install_hooks() -> None:
    """Attach the commit hook to every Session (idempotent)."""
    global _hooked
    from sqlalchemy import event

    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)
    _hooked = True


def _inside(savepoint: Any, rolled_back: Any) -> bool:
    while savepoint is not None:
        if savepoint is rolled_back:
            return True
        savepoint = savepoint.parent
    return False


def _after_soft_rollback(session: Session, previous_transaction: Any) -> None:
    """A savepoint's rollback drops only what was staged inside it; the outer rollback drops everything."""
    if not previous_transaction.nested:
        discard_pending(session)
        return
    pending: list[PendingEntry] = session.info.get(PENDING_KEY, [])
    kept = [entry for entry in pending if not _inside(entry.savepoint, previous_transaction)]
    if kept:
        session.info[PENDING_KEY] = kept
    else:
        discard_pending(session)
