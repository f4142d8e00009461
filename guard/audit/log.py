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
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from guard.audit.chain import canonical_body, entry_hash
from guard.audit.models import AuditEntry, AuditHead
from guard.errors import Unavailable

PENDING_KEY = "guard.audit.pending"
HEAD_ID = 1

# Built once: Core statements on the session's connection cost a fraction of ORM bulk inserts, and
# appends happen on every audited transaction.
_HEAD = cast(Table, AuditHead.__table__)
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ID)
_LOCK_HEAD = _READ_HEAD.with_for_update()
_INSERT_ENTRIES = insert(cast(Table, AuditEntry.__table__))
_MOVE_HEAD = (
    update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
# PostgreSQL: one round trip for both, so the head row lock is held for one statement less.
_INSERT_ONE_AND_MOVE_HEAD = _INSERT_ENTRIES.add_cte(_MOVE_HEAD.cte("moved_head"))


@dataclass
class PendingEntry:
    ts: datetime
    actor: str
    action: str
    target: str
    payload: dict[str, Any]
    seq: int | None = field(default=None)
    hash: str | None = field(default=None)


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    target: str = "",
    payload: dict[str, Any] | None = None,
    ts: datetime | None = None,
) -> PendingEntry:
    """Stage one audit entry in the caller's transaction. Its `seq` is known once the session commits."""
    entry = PendingEntry(
        ts=(ts or datetime.now(UTC)).astimezone(UTC),
        actor=actor,
        action=action,
        target=target,
        payload=dict(payload or {}),
    )
    session.info.setdefault(PENDING_KEY, []).append(entry)
    return entry


def discard_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


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
    # SQLite: BEGIN IMMEDIATE already holds the write lock; PostgreSQL: lock the one head row.
    head_query = _READ_HEAD if connection.dialect.name == "sqlite" else _LOCK_HEAD
    head = connection.execute(head_query).one_or_none()
    if head is None:
        raise Unavailable("the audit log has no chain head; run `guard init` to migrate the database")
    seq, prev = head.seq, head.hash
    # SQLite derives ts, actor, action and target from the body; PostgreSQL stores copies of them.
    copies = connection.dialect.name != "sqlite"
    rows = []
    for entry, body in zip(pending, bodies, strict=True):
        seq += 1
        digest = entry_hash(seq, prev, body)
        row: dict[str, Any] = {"seq": seq, "body": body.decode(), "prev_hash": prev, "hash": digest}
        if copies:
            row.update(ts=entry.ts, actor=entry.actor, action=entry.action, target=entry.target)
        rows.append(row)
        entry.seq, entry.hash = seq, digest
        prev = digest
    if len(rows) == 1 and connection.dialect.name == "postgresql":
        connection.execute(_INSERT_ONE_AND_MOVE_HEAD, {**rows[0], "new_seq": seq, "new_hash": prev})
    else:
        connection.execute(_INSERT_ENTRIES, rows[0] if len(rows) == 1 else rows)
        connection.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev})
    return pending


def _before_commit(session: Session) -> None:
    if session.info.get(PENDING_KEY):
        flush_pending(session)


def install_hooks() -> None:
    """Attach the commit hook to every Session (idempotent)."""
    from sqlalchemy import event

    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)


def _after_soft_rollback(session: Session, previous_transaction: Any) -> None:
    discard_pending(session)
