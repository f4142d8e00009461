"""Read models for the console's pages: the facts an analyst, an approver or HR looks at first, each
one query (or a few) over the same tables the API reads. Nothing here writes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guard.access.models import AccessApproval, AccessRequest
from guard.audit.checkpoints import latest_checkpoint
from guard.audit.models import AuditEntry
from guard.audit.witness import Witness
from guard.customers.models import Customer
from guard.detection.models import Alert
from guard.documents.models import Document
from guard.errors import Unavailable
from guard.hr import archive
from guard.people.holds import active_holds
from guard.people.models import User, UserHold

UNRESOLVED = ("new", "in_review")
SEVERITIES = ("critical", "high", "medium", "low")
DECISIONS = ("access.view", "access.download", "access.export")  # one per request, whatever its outcome


def open_alerts_by_severity(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Alert.severity, func.count()).where(Alert.status.in_(UNRESOLVED)).group_by(Alert.severity)
    ).all()
    counts = {severity: 0 for severity in SEVERITIES}
    counts.update({severity: count for severity, count in rows})
    return counts


def open_alerts_about(session: Session, usernames: list[str]) -> dict[str, int]:
    if not usernames:
        return {}
    rows = session.execute(
        select(Alert.username, func.count())
        .where(Alert.status.in_(UNRESOLVED), Alert.username.in_(usernames))
        .group_by(Alert.username)
    ).all()
    return {username: count for username, count in rows}


@dataclass(frozen=True)
class OnNotice:
    username: str
    display_name: str
    type: str
    notice_date: date | None
    last_working_date: date | None
    days_left: int | None
    open_alerts: int
    handover: dict[str, Any] | None


def people_on_notice(session: Session, *, today: date) -> list[OnNotice]:
    """Scheduled departures, the nearest last day first, with their open alerts and handover."""
    scheduled = archive.list_departures(session=session, state="scheduled")
    alerts = open_alerts_about(session, [d.user for d in scheduled])
    rows = [
        OnNotice(
            username=d.user,
            display_name=d.display_name,
            type=d.type,
            notice_date=d.notice_date,
            last_working_date=d.last_working_date,
            days_left=(d.last_working_date - today).days if d.last_working_date else None,
            open_alerts=alerts.get(d.user, 0),
            handover=d.handover,
        )
        for d in scheduled
    ]
    return sorted(rows, key=lambda row: (row.last_working_date or date.max, row.username))


@dataclass(frozen=True)
class Integrity:
    entries: int
    last_verify_at: datetime | None
    last_verify_ok: bool | None
    last_verify_problem: str | None
    checkpoint_size: int | None
    checkpoint_at: datetime | None
    witness_present: bool
    witness_lines_ok: bool

    def covers(self, seq: int) -> bool:
        """Whether an entry is inside the last signed checkpoint and the last full verify passed."""
        return bool(self.last_verify_ok) and self.checkpoint_size is not None and seq <= self.checkpoint_size


def integrity(session: Session, *, witness: Witness) -> Integrity:
    entries = session.scalar(select(func.max(AuditEntry.seq))) or 0
    verified = session.execute(
        select(AuditEntry.ts, AuditEntry.action, AuditEntry.body)
        .where(AuditEntry.action.in_(("audit.verified", "audit.damaged")))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    problem = None
    if verified is not None and verified.action == "audit.damaged":
        payload = orjson.loads(verified.body).get("payload") or {}
        problem = str(payload.get("problem") or "damaged")
    checkpoint = latest_checkpoint(session=session)
    try:
        newest = witness.last()
    except Unavailable:  # a witness bucket out of reach: shown as no witness, the page still answers
        newest = None
    return Integrity(
        entries=entries,
        last_verify_at=verified.ts if verified else None,
        last_verify_ok=(verified.action == "audit.verified") if verified else None,
        last_verify_problem=problem,
        checkpoint_size=checkpoint.size if checkpoint else None,
        checkpoint_at=checkpoint.ts if checkpoint else None,
        witness_present=newest is not None,
        witness_lines_ok=checkpoint is None or newest is not None,
    )


@dataclass(frozen=True)
class PersonFacts:
    """What an approver sees about a requester: lifecycle, holds in force, open alerts."""

    status: str
    lifecycle: str
    access_ends_at: datetime | None
    holds: list[UserHold]
    open_alerts: int

    @property
    def stands_out(self) -> bool:
        return self.lifecycle != "active" or self.status != "active" or bool(self.holds)


def facts_about(session: Session, user_ids: list[str]) -> dict[str, PersonFacts]:
    users = session.scalars(select(User).where(User.id.in_(user_ids))).all() if user_ids else []
    holds = active_holds(session, user_ids=[u.id for u in users])
    alerts = open_alerts_about(session, [u.username for u in users])
    return {
        u.id: PersonFacts(
            u.status, u.lifecycle, u.access_ends_at, holds.get(u.id, []), alerts.get(u.username, 0)
        )
        for u in users
    }


@dataclass(frozen=True)
class Step:
    approver: str
    verdict: str
    note: str
    at: datetime


def steps_of(session: Session, request_ids: list[str]) -> dict[str, list[Step]]:
    """Each request's approvals and rejections, oldest first, with who gave them."""
    if not request_ids:
        return {}
    rows = session.execute(
        select(AccessApproval, User.username)
        .join(User, User.id == AccessApproval.approver_id)
        .where(AccessApproval.request_id.in_(request_ids))
        .order_by(AccessApproval.created_at)
    ).all()
    steps: dict[str, list[Step]] = {}
    for approval, username in rows:
        steps.setdefault(approval.request_id, []).append(
            Step(username, approval.verdict, approval.note, approval.created_at)
        )
    return steps


def titles(session: Session, document_ids: list[str]) -> dict[str, tuple[str, str, str]]:
    """Document id -> (title, customer id, customer name)."""
    if not document_ids:
        return {}
    rows = session.execute(
        select(Document.id, Document.title, Customer.id, Customer.name)
        .join(Customer, Customer.id == Document.customer_id)
        .where(Document.id.in_(document_ids))
    ).all()
    return {doc_id: (title, customer_id, name) for doc_id, title, customer_id, name in rows}


def customers_owned_by(session: Session, user_id: str) -> list[Customer]:
    return list(session.scalars(select(Customer).where(Customer.owner_id == user_id).order_by(Customer.name)))


@dataclass(frozen=True)
class DailyActivity:
    days: list[date]
    requests: list[int]
    baseline: float  # the person's mean daily requests before the window's notice (or over the whole window)


def daily_activity(
    session: Session, *, username: str, until: datetime, days: int, notice_at: datetime | None
) -> DailyActivity:
    """Requests (one access decision each, granted or not) per day over `days` days up to `until`, and the
    person's own usual level: the mean over the days before notice (all days when there is none)."""
    start = (until - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    stamps = session.scalars(
        select(AuditEntry.ts).where(
            AuditEntry.actor == username,
            AuditEntry.action.in_(DECISIONS),
            AuditEntry.ts >= start,
            AuditEntry.ts <= until,
        )
    ).all()
    per_day = Counter(ts.date() for ts in stamps)
    calendar = [start.date() + timedelta(days=offset) for offset in range(days)]
    requests = [per_day.get(day, 0) for day in calendar]
    before = [
        n for day, n in zip(calendar, requests, strict=True) if notice_at is None or day < notice_at.date()
    ]
    return DailyActivity(calendar, requests, round(sum(before) / len(before), 2) if before else 0.0)


@dataclass(frozen=True)
class ReasonGiven:
    at: datetime
    action: str
    status: str
    reason: str
    place: str | None
    document: str
    customer: str


def reasons_given(session: Session, *, user_id: str, since: datetime, until: datetime) -> list[ReasonGiven]:
    """Every request the person made in the window with the reason they gave, newest first."""
    rows = session.execute(
        select(AccessRequest)
        .where(
            AccessRequest.requester_id == user_id,
            AccessRequest.created_at >= since,
            AccessRequest.created_at <= until,
        )
        .order_by(AccessRequest.created_at.desc())
        .limit(1000)
    ).scalars()
    requests = list(rows)
    named = titles(session, [r.document_id for r in requests if r.document_id])
    given = []
    for r in requests:
        title, _, customer = named.get(
            r.document_id or "", (f"{len(r.document_ids or [])} documents", "", "")
        )
        given.append(ReasonGiven(r.created_at, r.action, r.status, r.reason, r.place, title, customer))
    return given


def departures_by_month(session: Session) -> list[dict[str, Any]]:
    """Departures (scheduled or done) per month of their last day and department, with how much of their
    handover was acknowledged."""
    records = archive.list_departures(session=session, limit=5000)
    departments = dict(session.execute(select(User.username, User.department)).all())
    months: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        if record.state == "withdrawn":
            continue
        day = record.last_working_date or record.access_ends_at.date()
        key = (day.strftime("%Y-%m"), departments.get(record.user) or "(none)")
        row = months.setdefault(
            key, {"month": key[0], "department": key[1], "departures": 0, "items": 0, "acknowledged": 0}
        )
        row["departures"] += 1
        handover = record.handover or {}
        row["items"] += int(handover.get("items", 0))
        row["acknowledged"] += int(handover.get("acknowledged", 0))
    return [months[key] for key in sorted(months)]


def latest_open_alerts(session: Session, *, limit: int = 10) -> list[Alert]:
    """The newest unresolved alerts, the most severe first."""
    found = session.scalars(
        select(Alert)
        .where(Alert.status.in_(UNRESOLVED))
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    return sorted(
        found, key=lambda alert: SEVERITIES.index(alert.severity) if alert.severity in SEVERITIES else 9
    )


def customer_names(session: Session, customer_ids: list[str]) -> dict[str, str]:
    if not customer_ids:
        return {}
    rows = session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(set(customer_ids)))).all()
    return {customer_id: name for customer_id, name in rows}


IMPORTS = ("hr.import", "hr.import_rejected")


def inbox_files(session: Session, *, limit: int = 50) -> list[dict[str, Any]]:
    """HR files taken from the inbox, newest first, with their outcome and (when refused) the row errors,
    as the importer recorded them in the audit log."""
    rows = session.execute(
        select(AuditEntry.ts, AuditEntry.action, AuditEntry.target, AuditEntry.body)
        .where(AuditEntry.action.in_(IMPORTS))
        .order_by(AuditEntry.seq.desc())
        .limit(limit)
    ).all()
    files = []
    for ts, action, target, body in rows:
        payload = orjson.loads(body).get("payload") or {}
        files.append(
            {
                "at": ts,
                "file": target.removeprefix("file:"),
                "source": payload.get("source"),
                "applied": action == "hr.import",
                "rows": payload.get("rows", 0),
                "duplicates": payload.get("duplicates", 0),
                "errors": payload.get("errors", []),
                "error_count": payload.get("error_count", 0),
            }
        )
    return files


def alerts_per_day(session: Session, *, until: datetime, days: int = 30) -> dict[str, Any]:
    """Alerts raised per day and severity over the last `days` days (for the security home's chart)."""
    start = (until - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    raised = session.execute(select(Alert.created_at, Alert.severity).where(Alert.created_at >= start)).all()
    calendar = [(start + timedelta(days=offset)).date() for offset in range(days)]
    counts = Counter((at.date(), severity) for at, severity in raised)
    return {
        "days": [day.isoformat() for day in calendar],
        "series": {severity: [counts.get((day, severity), 0) for day in calendar] for severity in SEVERITIES},
    }
