"""Reading the audit log as rule events, in sequence order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guard.audit.models import AuditEntry, AuditHead
from guard.policies.rules import Event

# The hashed body says everything an event needs; on SQLite the other columns are derived from it anyway.
COLUMNS = (AuditEntry.seq, AuditEntry.body)


def to_event(row: Sequence[Any]) -> Event:
    doc = orjson.loads(row[1])
    return Event.build(
        seq=row[0],
        ts=datetime.fromisoformat(doc["ts"]),
        actor=doc["actor"],
        action=doc["action"],
        target=doc["target"],
        payload=doc.get("payload") or {},
    )


def read_after(*, session: Session, after_seq: int, limit: int) -> list[Event]:
    """The next `limit` entries after `after_seq`."""
    rows = session.execute(
        select(*COLUMNS).where(AuditEntry.seq > after_seq).order_by(AuditEntry.seq).limit(limit)
    ).all()
    return [to_event(row) for row in rows]


def iter_events(
    *,
    session: Session,
    since: datetime | None = None,
    through_seq: int | None = None,
    actor: str | None = None,
    chunk: int = 5000,
) -> Iterator[Event]:
    """Entries (by time, up to a seq, for one actor) in seq order, fetched in keyset-paged chunks."""
    last = 0
    if since is not None:  # start at the first entry of the period (ts index) instead of scanning from 1
        first = session.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.ts >= since))
        if first is None:
            return
        last = first - 1
    while True:
        query = select(*COLUMNS).where(AuditEntry.seq > last)
        if since is not None:
            query = query.where(AuditEntry.ts >= since)
        if through_seq is not None:
            query = query.where(AuditEntry.seq <= through_seq)
        if actor is not None:
            query = query.where(AuditEntry.actor == actor)
        rows = session.execute(query.order_by(AuditEntry.seq).limit(chunk)).all()
        for row in rows:
            yield to_event(row)
        if len(rows) < chunk:
            return
        last = rows[-1][0]


def head_seq(session: Session) -> int:
    seq = session.scalar(select(AuditHead.seq).where(AuditHead.id == 1))
    return int(seq or 0)
