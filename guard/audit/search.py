"""Searching the audit log: filters, keyset pagination on seq, opaque signed cursors.

Each equality filter has an index that starts with that column and ends with seq (`actor, seq`, ...), so a
page is an index range read in seq order whatever the log's size. Time bounds use the `ts` index.
Filters on payload fields (`decision`, `customer`, `document`, `rule`, `status`, `source`) are checked on
the decoded entries of that range: a page reads at most `SCAN_LIMIT` entries and, when it has not found
`limit` matches by then, ends early with a cursor to go on from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import ColumnElement, Select, Table, select
from sqlalchemy.orm import Session

from guard.audit.chain import format_ts
from guard.audit.models import AuditEntry
from guard.bounds import check_time
from guard.errors import InvalidInput, NotFound
from guard.paging import fingerprint, read_cursor, sign_cursor

PAYLOAD_FILTERS = ("decision", "customer", "document", "rule", "status", "source")
FILTER_NAMES = ("actor", "action", "target", "since", "until", "seq", *PAYLOAD_FILTERS)
SCAN_LIMIT = 20_000
_LIST_FIELDS = {"customer": ("customer_id", "customer_ids"), "document": ("document_id", "document_ids")}
MAX_LIMIT = 1000
MAX_SEQS = MAX_LIMIT
WILDCARD = "*"
DEFAULT_LIMIT = 100
Order = Literal["asc", "desc"]
_LENGTHS = {"actor": 200, "action": 100, "target": 300}
ENTRIES: Table = AuditEntry.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    seqs: tuple[int, ...] | None = None  # exactly these entries (an alert's evidence)
    fields: tuple[tuple[str, str], ...] = ()  # payload filters, (name, value)

    def matches(self, payload: Any) -> bool:
        """The payload filters, on an entry's decoded payload (always true without any)."""
        if not self.fields:
            return True
        if not isinstance(payload, dict):
            return False
        for name, wanted in self.fields:
            if name in _LIST_FIELDS:
                one, many = _LIST_FIELDS[name]
                listed = payload.get(many)
                values: list[Any] = listed if isinstance(listed, list) else [payload.get(one)]
                if wanted not in [str(v) for v in values if v is not None]:
                    return False
            elif str(payload.get(name, "")) != wanted:
                return False
        return True

    def as_payload(self) -> dict[str, Any]:
        values = {
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "since": format_ts(self.since) if self.since else None,
            "until": format_ts(self.until) if self.until else None,
            "seq": ",".join(map(str, self.seqs)) if self.seqs is not None else None,
            **dict(self.fields),
        }
        return {k: v for k, v in values.items() if v is not None}

    def conditions(self) -> list[ColumnElement[bool]]:
        c = ENTRIES.c
        found: list[ColumnElement[bool]] = []
        if self.actor is not None:
            found.append(c.actor == self.actor)
        if self.action is not None and self.action.endswith(WILDCARD):
            # `access.*` as the rules write it: a range on the (action, seq) index, not a LIKE scan.
            prefix = self.action[: -len(WILDCARD)]
            found.append(c.action >= prefix)
            if prefix:
                found.append(c.action < prefix[:-1] + chr(ord(prefix[-1]) + 1))
        elif self.action is not None:
            found.append(c.action == self.action)
        if self.target is not None:
            found.append(c.target == self.target)
        if self.since is not None:
            found.append(c.ts >= self.since)
        if self.until is not None:
            found.append(c.ts < self.until)
        if self.seqs is not None:
            found.append(c.seq.in_(self.seqs))
        return found


@dataclass(frozen=True)
class SearchPage:
    entries: list[dict[str, Any]]
    next_cursor: str | None


def parse_time(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 time with a timezone, such as 2026-03-02T09:00:00Z; got {value!r}"
        ) from None
    return check_time(parsed, name)


def parse_seqs(value: str) -> tuple[int, ...]:
    """`seq=12,40,41`: the entries an alert names as its evidence."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and len(p) <= 18 for p in parts):
        raise InvalidInput(
            f"seq must be sequence numbers separated by commas, such as 12,40,41; got {value!r}"
        )
    if len(parts) > MAX_SEQS:
        raise InvalidInput(f"seq may name at most {MAX_SEQS} entries")
    return tuple(sorted({int(p) for p in parts}))


def parse_filters(
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: str | None = None,
    until: str | None = None,
    seq: str | None = None,
    fields: dict[str, str | None] | None = None,
) -> AuditFilters:
    """Empty values mean "no filter"; anything else must make sense or the whole request is refused.
    `fields`: payload filters by name (see PAYLOAD_FILTERS)."""
    texts: dict[str, str | None] = {}
    for name, raw in (("actor", actor), ("action", action), ("target", target)):
        value = raw.strip() if raw is not None else None
        if value and len(value) > _LENGTHS[name]:
            raise InvalidInput(f"{name} is longer than {_LENGTHS[name]} characters, so nothing can match it")
        texts[name] = value or None
    if texts["action"] and WILDCARD in texts["action"].removesuffix(WILDCARD):
        raise InvalidInput(
            "action takes a name such as access.view, or a prefix ending in '*' such as access.*"
        )
    start = parse_time(since, "since") if since and since.strip() else None
    end = parse_time(until, "until") if until and until.strip() else None
    if start is not None and end is not None and start >= end:
        raise InvalidInput("since must be earlier than until")
    seqs = parse_seqs(seq) if seq is not None and seq.strip() else None
    wanted: list[tuple[str, str]] = []
    for name, raw in (fields or {}).items():
        if name not in PAYLOAD_FILTERS:
            raise InvalidInput(f"unknown filter {name!r}; payload filters are {', '.join(PAYLOAD_FILTERS)}")
        value = raw.strip() if raw is not None else ""
        if len(value) > 300:
            raise InvalidInput(f"{name} is longer than 300 characters, so nothing can match it")
        if value:
            wanted.append((name, value))
    return AuditFilters(
        texts["actor"], texts["action"], texts["target"], start, end, seqs, tuple(sorted(wanted))
    )


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}; got {limit}")
    return limit


def _bound_to(filters: AuditFilters, order: str) -> str:
    return fingerprint("audit", {**filters.as_payload(), "order": order})


def _after(key: bytes, cursor: str, bound_to: str) -> int:
    [seq] = read_cursor(key, cursor, bound_to, 1)
    if not isinstance(seq, int):
        raise InvalidInput("the cursor is not one this server handed out; start again without it")
    return seq


def entry_view(seq: int, body: str, stored_hash: str, **columns: Any) -> dict[str, Any]:
    """An entry as users see it: what its hashed body says (falling back to the indexed copies)."""
    try:
        doc = orjson.loads(body)
    except (orjson.JSONDecodeError, TypeError):
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    view = {
        "seq": int(seq),
        "ts": doc.get("ts", format_ts(columns["ts"]) if columns.get("ts") else None),
        "actor": doc.get("actor", columns.get("actor")),
        "action": doc.get("action", columns.get("action")),
        "target": doc.get("target", columns.get("target")),
        "payload": doc.get("payload", {}),
        "hash": stored_hash,
    }
    if "prev_hash" in columns:
        view["prev_hash"] = columns["prev_hash"]
    return view


def get_entry(*, session: Session, seq: int) -> dict[str, Any]:
    """One entry with its chain links, as an alert's evidence points at it."""
    c = ENTRIES.c
    row = session.execute(
        select(c.seq, c.ts, c.actor, c.action, c.target, c.body, c.hash, c.prev_hash).where(c.seq == seq)
    ).first()
    if row is None:
        raise NotFound(f"no audit entry with seq {seq}")
    return entry_view(
        row.seq,
        row.body,
        row.hash,
        ts=row.ts,
        actor=row.actor,
        action=row.action,
        target=row.target,
        prev_hash=row.prev_hash,
    )


def page_query(filters: AuditFilters, *, after: int | None, order: Order, limit: int) -> Select[Any]:
    c = ENTRIES.c
    query = select(c.seq, c.ts, c.actor, c.action, c.target, c.body, c.hash).where(*filters.conditions())
    if after is not None:
        query = query.where(c.seq < after if order == "desc" else c.seq > after)
    return query.order_by(c.seq.desc() if order == "desc" else c.seq.asc()).limit(limit)


def search(
    *,
    session: Session,
    filters: AuditFilters,
    key: bytes,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    order: Order = "desc",
) -> SearchPage:
    limit = check_limit(limit)
    bound_to = _bound_to(filters, order)
    after = _after(key, cursor, bound_to) if cursor else None
    if not filters.fields:
        rows = session.execute(page_query(filters, after=after, order=order, limit=limit + 1)).all()
        entries = [
            entry_view(r.seq, r.body, r.hash, ts=r.ts, actor=r.actor, action=r.action, target=r.target)
            for r in rows[:limit]
        ]
        more = len(rows) > limit
        next_cursor = sign_cursor(key, [entries[-1]["seq"]], bound_to) if more else None
        return SearchPage(entries, next_cursor)
    entries, scanned, last, more = [], 0, after, False
    while True:
        batch = min(1000, SCAN_LIMIT - scanned)
        rows = session.execute(page_query(filters, after=last, order=order, limit=batch)).all()
        for r in rows:
            last, scanned = r.seq, scanned + 1
            view = entry_view(r.seq, r.body, r.hash, ts=r.ts, actor=r.actor, action=r.action, target=r.target)
            if filters.matches(view["payload"]):
                entries.append(view)
                if len(entries) == limit:
                    break
        if len(entries) == limit or (len(rows) == batch and scanned >= SCAN_LIMIT):
            more = True  # a full page, or the scan budget spent: go on from the last entry read
            break
        if len(rows) < batch:
            break  # the end of the range
    next_cursor = sign_cursor(key, [last], bound_to) if more and last is not None else None
    return SearchPage(entries, next_cursor)
