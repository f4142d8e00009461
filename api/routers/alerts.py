"""The alert queue (security role): list and page, open one with its evidence and history, review,
assign, annotate and resolve, one by one or in bulk."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.orm import Session

from api.deps import GuardRoute, NowDep, RuntimeDep, SessionDep, require_roles
from api.paging import PAGED, CursorQuery, LimitQuery, page_request, send_page
from api.schemas import HoldOut, Strict, hold_out
from guard.auth.service import Principal
from guard.detection import alerts as service
from guard.detection.evidence import evidence_entries
from guard.detection.models import Alert, AlertNote
from guard.paging import Keyset, paginate
from guard.people.holds import holds_set_by_alert
from guard.types import Role

router = APIRouter(tags=["detection"], route_class=GuardRoute)
SecurityDep = Annotated[Principal, Depends(require_roles(Role.SECURITY))]
Severity = Literal["low", "medium", "high", "critical"]
# open and acknowledged: the first names of new and in_review, still accepted
AlertStatus = Literal["new", "in_review", "resolved", "open", "acknowledged"]
Verdict = Literal["true_positive", "false_positive", "benign"]
NoteText = Annotated[str, Field(min_length=1, max_length=service.NOTE_LIMIT)]
Username = Annotated[str, Field(min_length=1, max_length=64)]


class NoteOut(BaseModel):
    kind: str  # note | review | assign | resolve
    author: str
    at: datetime
    text: str


class AlertOut(BaseModel):
    id: str
    rule: str
    rule_type: str
    severity: str
    user: str
    status: str  # new | in_review | resolved
    summary: str
    evidence: list[int]
    created_at: datetime
    event_ts: datetime
    last_event_ts: datetime
    extensions: int  # later findings of the same episode folded into this alert
    threshold: float
    observed: float
    window_seconds: int | None
    lookback: bool
    details: dict[str, Any]
    responses: list[dict[str, Any]]
    assignee: str | None
    verdict: str | None
    note: str | None  # the latest line of the history
    acknowledged_by: str | None  # who started the review
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    # GET /alerts/{id} only: each evidence entry with the document titles and customer names behind it.
    evidence_entries: list[dict[str, Any]] | None = None
    # GET /alerts/{id} and resolve: the holds this alert's responses set, lifted or not.
    holds: list[HoldOut] | None = None
    # GET /alerts/{id} and every change: the append-only history, oldest first.
    notes: list[NoteOut] | None = None


class ReviewIn(Strict):
    note: NoteText
    verdict: Verdict | None = None


class NoteIn(Strict):
    text: NoteText


class AssignIn(Strict):
    assignee: Username
    note: NoteText | None = None


class ResolveIn(Strict):
    verdict: Verdict
    reason: NoteText | None = None
    note: NoteText | None = None  # the first name of `reason`
    # With verdict false_positive: lift the holds this alert's responses set (false keeps them).
    lift_holds: bool = True

    @model_validator(mode="after")
    def _has_reason(self) -> ResolveIn:
        if self.reason is None and self.note is None:
            raise ValueError("a resolution needs a reason")
        return self

    @property
    def why(self) -> str:
        return self.reason if self.reason is not None else str(self.note)


class AlertFilterIn(Strict):
    status: AlertStatus | None = None
    severity: Severity | None = None
    user: Username | None = None
    rule: Annotated[str, Field(max_length=100)] | None = None
    assignee: Username | None = None
    lookback: bool | None = None

    @model_validator(mode="after")
    def _narrows(self) -> AlertFilterIn:
        if all(value is None for value in self.model_dump().values()):
            raise ValueError(
                "a filter needs at least one field (status, severity, user, rule, assignee, lookback)"
            )
        return self

    def where(self) -> service.AlertFilter:
        return service.AlertFilter(**self.model_dump())


AlertIds = Annotated[
    list[Annotated[str, Field(max_length=32)]], Field(min_length=1, max_length=service.MAX_BULK)
]


class BulkIn(Strict):
    """Assign or resolve many alerts: by `ids`, or every unresolved alert matching `filter`.
    All or nothing."""

    action: Literal["assign", "resolve"]
    ids: AlertIds | None = None
    filter: AlertFilterIn | None = None
    assignee: Username | None = None
    verdict: Verdict | None = None
    reason: NoteText | None = None
    lift_holds: bool = True

    @model_validator(mode="after")
    def _complete(self) -> BulkIn:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give either ids or filter")
        if self.action == "assign" and self.assignee is None:
            raise ValueError("assign needs an assignee")
        if self.action == "resolve" and (self.verdict is None or self.reason is None):
            raise ValueError("resolve needs a verdict and a reason")
        return self


class BulkOut(BaseModel):
    action: str
    changed: int
    ids: list[str]


def alert_out(alert: Alert, *, notes: list[AlertNote] | None = None) -> AlertOut:
    return AlertOut(
        id=alert.id,
        rule=alert.rule,
        rule_type=alert.rule_type,
        severity=alert.severity,
        user=alert.username,
        status=alert.status,
        summary=alert.summary,
        evidence=list(alert.evidence),
        created_at=alert.created_at,
        event_ts=alert.event_ts,
        last_event_ts=alert.last_event_ts or alert.event_ts,
        extensions=alert.extensions or 0,
        threshold=alert.threshold,
        observed=alert.observed,
        window_seconds=alert.window_seconds,
        lookback=alert.lookback,
        details=dict(alert.details),
        responses=list(alert.responses),
        assignee=alert.assignee,
        verdict=alert.verdict,
        note=alert.note,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at,
        resolved_by=alert.resolved_by,
        resolved_at=alert.resolved_at,
        notes=None
        if notes is None
        else [NoteOut(kind=n.kind, author=n.author, at=n.at, text=n.text) for n in notes],
    )


def _with_history(session: Session, alert: Alert) -> AlertOut:
    session.flush()
    return alert_out(alert, notes=service.notes_of(session, alert.id))


@router.get("/alerts", response_model=list[AlertOut], responses=PAGED)
def list_alerts(
    _security: SecurityDep,
    session: SessionDep,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    status: Annotated[AlertStatus | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    user: Annotated[str | None, Query(max_length=200)] = None,
    rule: Annotated[str | None, Query(max_length=100)] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    verdict: Annotated[Verdict | None, Query()] = None,
    lookback: Annotated[bool | None, Query(description="only look-back alerts (true) or live ones")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> list[AlertOut]:
    """The queue, newest first, filtered; pages with the X-Next-Cursor header."""
    where = service.AlertFilter(
        status=status,
        severity=severity,
        user=user,
        rule=rule,
        assignee=assignee,
        verdict=verdict,
        lookback=lookback,
    )
    page = paginate(
        session=session,
        query=service.alert_query(where),
        keyset=Keyset([Alert.created_at, Alert.id], descending=True),
        key_of=lambda row: (row[0].created_at, row[0].id),
        request=page_request(runtime.keyring.master_key, cursor, limit),
        scope="alerts",
        filters=vars(where),
    )
    send_page(request, response, page)
    return [alert_out(row[0]) for row in page.items]


@router.get("/alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: str, _security: SecurityDep, session: SessionDep) -> AlertOut:
    """One alert, explained: its numbers, its evidence entries with titles and names, its history."""
    alert = service.get_alert(session=session, alert_id=alert_id)
    entries = evidence_entries(session=session, seqs=alert.evidence)
    return _with_history(session, alert).model_copy(
        update={"evidence_entries": entries, "holds": _holds_of(session, alert.id)}
    )


def _holds_of(session: Session, alert_id: str) -> list[HoldOut]:
    found = holds_set_by_alert(session, alert_id=alert_id, active_only=False)
    return [hold_out(hold, full=True) for hold in found]


@router.post("/alerts/{alert_id}/review", response_model=AlertOut)
def review(
    alert_id: str, body: ReviewIn, security: SecurityDep, session: SessionDep, now: NowDep
) -> AlertOut:
    """Start the review of a new alert (it becomes the reviewer's unless already assigned)."""
    alert = service.start_review(
        session=session,
        actor=security.username,
        alert_id=alert_id,
        note=body.note,
        verdict=body.verdict,
        now=now,
    )
    return _with_history(session, alert)


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut)
def acknowledge(
    alert_id: str, body: ReviewIn, security: SecurityDep, session: SessionDep, now: NowDep
) -> AlertOut:
    """The first name of /review: the alert goes from new to in_review."""
    return review(alert_id, body, security, session, now)


@router.post("/alerts/{alert_id}/assign", response_model=AlertOut)
def assign(
    alert_id: str, body: AssignIn, security: SecurityDep, session: SessionDep, now: NowDep
) -> AlertOut:
    """Give an unresolved alert to a member of the security team."""
    [alert] = service.assign(
        session=session,
        actor=security.username,
        alert_ids=[alert_id],
        assignee=body.assignee,
        note=body.note,
        now=now,
    )
    return _with_history(session, alert)


@router.post("/alerts/{alert_id}/notes", response_model=AlertOut, status_code=201)
def add_note(
    alert_id: str, body: NoteIn, security: SecurityDep, session: SessionDep, now: NowDep
) -> AlertOut:
    """Append a note to the alert's history (notes are never edited or removed)."""
    alert = service.add_note(
        session=session, actor=security.username, alert_id=alert_id, text=body.text, now=now
    )
    return _with_history(session, alert)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve(
    alert_id: str, body: ResolveIn, security: SecurityDep, session: SessionDep, now: NowDep
) -> AlertOut:
    """Close an alert with a verdict and a reason; a false positive lifts the holds it set."""
    [alert] = service.resolve(
        session=session,
        actor=security.username,
        alert_ids=[alert_id],
        verdict=body.verdict,
        reason=body.why,
        lift_holds=body.lift_holds,
        now=now,
    )
    return _with_history(session, alert).model_copy(update={"holds": _holds_of(session, alert.id)})


@router.post("/alerts/bulk", response_model=BulkOut)
def bulk(body: BulkIn, security: SecurityDep, session: SessionDep, now: NowDep) -> BulkOut:
    """Assign or resolve several alerts in one transaction: every one changes, or none does."""
    if body.ids is not None:
        ids = list(dict.fromkeys(body.ids))
    else:
        assert body.filter is not None
        ids = service.matching_ids(session=session, where=body.filter.where())
    if not ids:
        return BulkOut(action=body.action, changed=0, ids=[])
    if body.action == "assign":
        assert body.assignee is not None
        changed = service.assign(
            session=session, actor=security.username, alert_ids=ids, assignee=body.assignee, now=now
        )
    else:
        assert body.verdict is not None
        assert body.reason is not None
        changed = service.resolve(
            session=session,
            actor=security.username,
            alert_ids=ids,
            verdict=body.verdict,
            reason=body.reason,
            lift_holds=body.lift_holds,
            now=now,
        )
    return BulkOut(action=body.action, changed=len(changed), ids=[a.id for a in changed])
