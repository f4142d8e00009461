"""The exposure report: every customer and document a person touched, from a look-back window before their
notice until their departure (or now), split before and after notice. The list of customers to call.

Counted from the audit log alone, read by actor with the (actor, seq) index and parsed in one pass:
- a *look* is a `content.deliver` entry: the bytes actually reached the person. Its payload `action`
  says whether it was a view, a download or an export (an export counts once for each document and
  each customer in the archive).
- `requests` counts the person's access decisions (`access.view|download|export`, any outcome) and
  `denied` those refused: attempts matter even when nothing was handed over.
- `external` adds the counts of events other systems reported for a customer (`external: true`).
A customer or document is *touched* when any of these entries names it; `first` and `last` are the
earliest and latest such entries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from guard.audit.models import AuditEntry
from guard.csvsafe import csv_text
from guard.customers.models import Customer
from guard.detection.models import Alert
from guard.documents.models import Document
from guard.hr import handovers
from guard.hr.calendar import start_of
from guard.hr.models import Departure, HrEvent
from guard.people.models import User
from guard.settings import HrSettings

DELIVER = "content.deliver"
DECISIONS = frozenset({"access.view", "access.download", "access.export"})
LOOKS = {"view": "views", "download": "downloads", "export": "exports"}
REQUEST = [("requests", 1)]
COUNTS = ("views", "downloads", "exports", "requests", "denied", "external")


def _zero() -> dict[str, int]:
    return dict.fromkeys(COUNTS, 0)


@dataclass
class Tally:
    """Counts for one customer or document, in total and on each side of the notice."""

    before: dict[str, int] = field(default_factory=_zero)
    after: dict[str, int] = field(default_factory=_zero)
    first: datetime | None = None
    last: datetime | None = None

    def add(self, what: str, ts: datetime, after_notice: bool, amount: int = 1) -> None:
        (self.after if after_notice else self.before)[what] += amount
        if self.first is None or ts < self.first:
            self.first = ts
        if self.last is None or ts > self.last:
            self.last = ts

    def merge(self, other: Tally) -> None:
        for mine, theirs in ((self.before, other.before), (self.after, other.after)):
            for key in COUNTS:
                mine[key] += theirs[key]
        for ts in (other.first, other.last):
            if ts is not None:
                self.first = ts if self.first is None or ts < self.first else self.first
                self.last = ts if self.last is None or ts > self.last else self.last

    def out(self) -> dict[str, Any]:
        totals = {k: self.before[k] + self.after[k] for k in COUNTS}
        return {
            **totals,
            "first": self.first,
            "last": self.last,
            "before_notice": dict(self.before),
            "after_notice": dict(self.after),
        }


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    notice_at: datetime | None


def latest_departure(session: Session, user_id: str) -> Departure | None:
    """The person's current or last departure (a withdrawn one only if there is nothing else)."""
    rows = session.scalars(
        select(Departure)
        .join(HrEvent, HrEvent.id == Departure.event_id)
        .where(Departure.user_id == user_id)
        .order_by(HrEvent.employee_seq.desc())
    ).all()
    return next((d for d in rows if d.state != "withdrawn"), rows[0] if rows else None)


def window_for(departure: Departure | None, *, hr: HrSettings, now: datetime) -> Window:
    notice_at: datetime | None = None
    if departure is not None and departure.state != "withdrawn":
        notice_at = start_of(hr, departure.notice_date) if departure.notice_date else departure.created_at
    end = departure.departed_at if departure is not None and departure.departed_at else now
    start = (notice_at or end) - timedelta(days=hr.lookback_days)
    return Window(start=start, end=end, notice_at=notice_at)


def _ids(payload: dict[str, Any], many: str, one: str) -> list[str]:
    """The ids an entry names, each once (an export lists several)."""
    value = payload.get(one)
    if isinstance(value, str):
        return [value]
    values = payload.get(many)
    if isinstance(values, list):
        return list(dict.fromkeys(v for v in values if isinstance(v, str)))
    return []


def scan(session: Session, username: str, window: Window) -> tuple[dict[str, Tally], dict[str, Tally]]:
    """One pass over the person's entries in the window: (customers, documents) by id."""
    customers: defaultdict[str, Tally] = defaultdict(Tally)
    documents: defaultdict[str, Tally] = defaultdict(Tally)
    rows = session.execute(
        select(AuditEntry.ts, AuditEntry.action, AuditEntry.body)
        .where(AuditEntry.actor == username, AuditEntry.ts >= window.start, AuditEntry.ts <= window.end)
        .order_by(AuditEntry.seq)
    )
    notice_at = window.notice_at
    for ts, action, body in rows:
        if action != DELIVER and action not in DECISIONS and '"external":true' not in body:
            continue  # cheap test on the canonical JSON before parsing it
        payload = _payload(body)
        after = notice_at is not None and ts >= notice_at
        if action == DELIVER:
            what = LOOKS.get(payload.get("action", ""))
            amounts = [(what, 1)] if what else []
        elif action in DECISIONS:
            amounts = [("requests", 1), ("denied", 1)] if payload.get("decision") == "denied" else REQUEST
        else:
            customer_id, count = payload.get("customer_id"), payload.get("count")
            if payload.get("external") is True and isinstance(customer_id, str):
                amount = count if isinstance(count, int) and count > 0 else 1
                customers[customer_id].add("external", ts, after, amount)
            continue
        customer_ids = _ids(payload, "customer_ids", "customer_id")
        document_ids = _ids(payload, "document_ids", "document_id")
        for what, amount in amounts:
            for cid in customer_ids:
                customers[cid].add(what, ts, after, amount)
            for did in document_ids:
                documents[did].add(what, ts, after, amount)
    return dict(customers), dict(documents)


def _payload(body: str) -> dict[str, Any]:
    parsed = orjson.loads(body)
    payload = parsed.get("payload") if isinstance(parsed, dict) else None
    return payload if isinstance(payload, dict) else {}


def resolve_customers(session: Session, tallies: dict[str, Tally]) -> tuple[dict[str, Tally], dict[str, str]]:
    """Other systems may name a customer by the CRM's id: fold those into Guard's customer. Returns the
    tallies by Guard id (unknown ids kept as sent) and the names."""
    if not tallies:
        return tallies, {}
    refs = list(tallies)
    rows = session.execute(
        select(Customer.id, Customer.external_id, Customer.name).where(
            or_(Customer.id.in_(refs), Customer.external_id.in_(refs))
        )
    ).all()
    by_id = {cid: cid for cid, _, _ in rows}
    by_external = {external: cid for cid, external, _ in rows}
    names = {cid: name for cid, _, name in rows}
    resolved: dict[str, Tally] = {}
    for ref, tally in tallies.items():
        key = by_id.get(ref) or by_external.get(ref) or ref
        if key in resolved:
            resolved[key].merge(tally)
        else:
            resolved[key] = tally
    return resolved, names


def _by_last(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["last"] is None, -(r["last"].timestamp() if r["last"] else 0)))


def report(*, session: Session, user: User, hr: HrSettings, now: datetime) -> dict[str, Any]:
    departure = latest_departure(session, user.id)
    window = window_for(departure, hr=hr, now=now)
    customer_tallies, document_tallies = scan(session, user.username, window)
    customer_tallies, names = resolve_customers(session, customer_tallies)
    docs = (
        {
            row.id: row
            for row in session.execute(
                select(Document.id, Document.title, Document.customer_id, Document.classification).where(
                    Document.id.in_(list(document_tallies))
                )
            )
        }
        if document_tallies
        else {}
    )
    customers = [
        {"customer_id": cid, "name": names.get(cid), **tally.out()} for cid, tally in customer_tallies.items()
    ]
    documents = []
    for did, tally in document_tallies.items():
        doc = docs.get(did)
        documents.append(
            {
                "document_id": did,
                "title": doc.title if doc else None,
                "customer_id": doc.customer_id if doc else None,
                "classification": doc.classification if doc else None,
                **tally.out(),
            }
        )
    alerts = [
        {
            "id": a.id,
            "rule": a.rule,
            "severity": a.severity,
            "status": a.status,
            "summary": a.summary,
            "event_ts": a.event_ts,
            "created_at": a.created_at,
            "lookback": a.lookback,
        }
        for a in session.scalars(
            select(Alert)
            .where(Alert.username == user.username, Alert.event_ts >= window.start)
            .order_by(Alert.created_at, Alert.id)
        )
    ]
    handover = handovers.handover_for(session, departure.id) if departure is not None else None
    return {
        "user": user.username,
        "status": user.status,
        "departure_type": departure.type if departure else None,
        "departure_state": departure.state if departure else None,
        "notice_date": departure.notice_date if departure else None,
        "last_working_date": departure.last_working_date if departure else None,
        "departed_at": departure.departed_at if departure else None,
        "window": {"from": window.start, "to": window.end, "notice_at": window.notice_at},
        "totals": _totals(customers, documents, alerts),
        "customers": _by_last(customers),
        "documents": _by_last(documents),
        "alerts": alerts,
        "handover": handovers.view(session, handover).summary() if handover is not None else None,
    }


def _totals(
    customers: list[dict[str, Any]], documents: list[dict[str, Any]], alerts: list[Any]
) -> dict[str, Any]:
    # Documents carry exactly one count per look (an export counts once per document in it).
    return {
        "customers": len(customers),
        "documents": len(documents),
        "document_views": sum(d["views"] for d in documents),
        "document_downloads": sum(d["downloads"] for d in documents),
        "document_exports": sum(d["exports"] for d in documents),
        "views_after_notice": sum(d["after_notice"]["views"] for d in documents),
        "downloads_after_notice": sum(d["after_notice"]["downloads"] for d in documents),
        "exports_after_notice": sum(d["after_notice"]["exports"] for d in documents),
        "denied": sum(d["denied"] for d in documents),
        "alerts": len(alerts),
    }


def exposure_totals(
    *, session: Session, user: User, departure: Departure, hr: HrSettings, now: datetime
) -> dict[str, Any]:
    """The summary kept in the departures archive."""
    window = window_for(departure, hr=hr, now=now)
    customers, documents = scan(session, user.username, window)
    customers, _ = resolve_customers(session, customers)
    customer_rows = [{"customer_id": c, **t.out()} for c, t in customers.items()]
    document_rows = [t.out() for t in documents.values()]
    alerts = session.scalars(
        select(Alert.id).where(Alert.username == user.username, Alert.event_ts >= window.start)
    ).all()
    return {
        **_totals(customer_rows, document_rows, list(alerts)),
        "customer_ids": sorted(customers, key=lambda c: customers[c].last or window.start, reverse=True),
        "window": {"from": window.start.isoformat(), "to": window.end.isoformat()},
    }


def _iso_or_blank(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def exposure_csv(report: dict[str, Any]) -> str:
    """The report as CSV, a row per customer and per document; names and titles are defused like every
    CSV Guard writes (guard.csvsafe)."""
    after = [f"{c}_after_notice" for c in COUNTS]
    rows: list[list[Any]] = [["kind", "id", "name", "customer_id", *COUNTS, "first", "last", *after]]
    for kind, found, label in (
        ("customer", report["customers"], "name"),
        ("document", report["documents"], "title"),
    ):
        for row in found:
            rows.append(
                [
                    kind,
                    row[f"{kind}_id"],
                    row[label] or "",
                    (row["customer_id"] or "") if kind == "document" else "",
                    *(row[c] for c in COUNTS),
                    _iso_or_blank(row["first"]),
                    _iso_or_blank(row["last"]),
                    *(row["after_notice"][c] for c in COUNTS),
                ]
            )
    return csv_text(rows)
