"""Exporting the audit log as CSV or JSON lines, streamed batch by batch (never the whole log in memory).

The export is itself recorded (`audit.export`) in the caller's transaction. The stream reads on its own
connection, one short read per batch, up to the head as it was when the export began.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from guard.audit.log import HEAD_ID, record
from guard.audit.models import AuditHead
from guard.audit.search import ENTRIES, AuditFilters, entry_view
from guard.csvsafe import csv_text
from guard.errors import InvalidInput

Format = Literal["csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")
BATCH = 1000
CSV_COLUMNS = ("seq", "ts", "actor", "action", "target", "payload", "prev_hash", "hash")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
# Spreadsheets run cells starting with these as formulas; actors and targets can come from outside.


@dataclass(frozen=True)
class Export:
    format: Format
    through_seq: int
    chunks: Iterator[bytes]

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    def filename(self, now: datetime) -> str:
        return f"guard-audit-{now:%Y%m%dT%H%M%SZ}.{self.format}"


def check_format(value: str) -> Format:
    for known in FORMATS:
        if value == known:
            return known
    raise InvalidInput(f"format must be one of: {', '.join(FORMATS)}; got {value!r}")


def export(
    *,
    session: Session,
    engine: Engine,
    actor: str,
    filters: AuditFilters,
    fmt: str,
    now: datetime,
    batch: int = BATCH,
) -> Export:
    """Record the export, then hand back a lazy stream of the matching entries up to the current head."""
    checked = check_format(fmt)
    through = int(
        session.execute(select(AuditHead.seq).where(AuditHead.id == HEAD_ID)).scalar_one_or_none() or 0
    )
    record(
        session=session,
        actor=actor,
        action="audit.export",
        target="audit",
        payload={"format": checked, "filters": filters.as_payload(), "through_seq": through},
        ts=now,
    )
    chunks = stream(engine=engine, filters=filters, fmt=checked, through=through, batch=batch)
    return Export(checked, through, chunks)


def stream(
    *, engine: Engine, filters: AuditFilters, fmt: Format, through: int, batch: int = BATCH
) -> Iterator[bytes]:
    if fmt == "csv":
        yield _csv_lines([CSV_COLUMNS])
    for views in _batches(engine, filters, through=through, batch=batch):
        if fmt == "csv":
            yield _csv_lines([_csv_row(view) for view in views])
        else:
            yield b"".join(orjson.dumps(view) + b"\n" for view in views)


def _batches(
    engine: Engine, filters: AuditFilters, *, through: int, batch: int
) -> Iterator[list[dict[str, Any]]]:
    c = ENTRIES.c
    last = 0
    with engine.connect() as connection:
        while last < through:
            rows = connection.execute(
                select(c.seq, c.ts, c.actor, c.action, c.target, c.body, c.prev_hash, c.hash)
                .where(*filters.conditions(), c.seq > last, c.seq <= through)
                .order_by(c.seq)
                .limit(batch)
            ).all()
            connection.rollback()  # end the read at once: no snapshot held while the client reads
            if not rows:
                return
            views = [
                entry_view(
                    r.seq,
                    r.body,
                    r.hash,
                    ts=r.ts,
                    actor=r.actor,
                    action=r.action,
                    target=r.target,
                    prev_hash=r.prev_hash,
                )
                for r in rows
            ]
            yield [v for v in views if filters.matches(v["payload"])]
            last = rows[-1].seq


def _csv_row(view: dict[str, Any]) -> list[str]:
    payload = orjson.dumps(view["payload"], option=orjson.OPT_SORT_KEYS).decode()
    values = [view["seq"], view["ts"], view["actor"], view["action"], view["target"], payload]
    return [*(str(v if v is not None else "") for v in values), view["prev_hash"], view["hash"]]


def _csv_lines(rows: Sequence[Sequence[str]]) -> bytes:
    return csv_text(rows).encode()
