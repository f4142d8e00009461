"""Quota counters, exact under concurrency on SQLite and PostgreSQL.

A look is counted by one conditional upsert:

    INSERT INTO access_counters (...) VALUES (..., used = 1)
    ON CONFLICT (user_id, document_id, action, period) DO UPDATE SET used = used + 1 WHERE used < :limit
    RETURNING used

It returns a row only when the look was counted. PostgreSQL re-checks the WHERE on the newest row version
after waiting for any concurrent writer, and SQLite writers are serialised by BEGIN IMMEDIATE, so N
concurrent requests against a quota of three count exactly three, whatever any of them read before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from guard.access.models import AccessCounter
from guard.prepared import PreparedStatement

KEY = ("user_id", "document_id", "action", "period")
_table = AccessCounter.__table__


def _upsert(insert: Any, *, conditional: bool) -> Any:
    """Built once per dialect and run on the driver's cursor (guard.prepared): the hot path only binds."""
    statement = insert(_table).values(
        user_id=bindparam("user_id"),
        document_id=bindparam("document_id"),
        action=bindparam("action"),
        period=bindparam("period"),
        used=1,
    )
    return statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={"used": _table.c.used + 1},
        where=(_table.c.used < bindparam("limit")) if conditional else None,
    ).returning(_table.c.used)


_UPSERTS = {
    (dialect, conditional): PreparedStatement(
        _upsert(insert, conditional=conditional), what="counting a look"
    )
    for dialect, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
    for conditional in (True, False)
}


def _execute(session: Session, params: dict[str, Any], *, conditional: bool) -> int | None:
    connection = session.connection()
    row = _UPSERTS[connection.dialect.name, conditional].first(connection, params)
    return None if row is None else int(row[0])


def try_count(
    session: Session, *, user_id: str, document_id: str, action: str, period: str, limit: int
) -> int | None:
    """Count one look if fewer than `limit` are used; the new count, or None when the quota is spent."""
    if limit <= 0:
        return None
    params = {
        "user_id": user_id,
        "document_id": document_id,
        "action": action,
        "period": period,
        "limit": limit,
    }
    return _execute(session, params, conditional=True)


def count(session: Session, *, user_id: str, document_id: str, action: str, period: str) -> int:
    """Count one look whatever the quota (an approver allowed it)."""
    params = {"user_id": user_id, "document_id": document_id, "action": action, "period": period}
    used = _execute(session, params, conditional=False)
    assert used is not None  # an unconditional upsert always returns its row
    return used


def uncount(session: Session, *, user_id: str, keys: Iterable[tuple[str, str]], action: str) -> None:
    """Give back looks counted earlier in this transaction (their rows are still locked by it)."""
    for document_id, period in keys:
        session.execute(
            update(AccessCounter)
            .where(
                AccessCounter.user_id == user_id,
                AccessCounter.document_id == document_id,
                AccessCounter.action == action,
                AccessCounter.period == period,
            )
            .values(used=AccessCounter.used - 1)
            .execution_options(synchronize_session=False)
        )
