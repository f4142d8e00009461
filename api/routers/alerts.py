"""The alert queue (security role): list, acknowledge, resolve."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import GuardRoute, NowDep, SessionDep, require_roles
from api.schemas import HoldOut, Strict, hold_out
from guard.auth.service import Principal
from guard.detection import alerts as service
from guard.detection.evidence import evidence_entries
from guard.detection.models import Alert
from guard.people.holds import holds_set_by_alert
from guard.types import Role

router = APIRouter(tags=["detection"], route_class=GuardRoute)
SecurityDep = Annotated[Principal, Depends(require_roles(Role.SECURITY))]
Severity = Literal["low", "medium", "high", "critical"]
AlertStatus = Literal["open", "acknowledged", "resolved"]


class AlertOut(BaseModel):
    id: str
    rule: str
    rule_type: str
    severity: str
    user: str
    status: str
    summary: str
    evidence: list[int]
    created_at: datetime
    event_ts: datetime
    threshold: float
    observed: float
    window_seconds: int | None
    lookback: bool
    details: dict[str, Any]
    responses: list[dict[str, Any]]
    verdict: str | None
    note: str | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    # GET /alerts/{id} only: each evidence entry with the document titles and customer names behind it.
    evidence_entries: list[dict[str, Any]] | None = None
    # GET /alerts/{id} and resolve: the holds this alert's responses set, lifted or not. Resolving as a
    # false positive lifts the active ones unless lift_holds is false.
    holds: list[HoldOut] | None = None


class AlertChange(Strict):
    note: str = Field(min_length=1, max_length=2000)
    verdict: Literal["true_positive", "false_positive"] | None = None


class AlertResolve(AlertChange):
    # With verdict false_positive: lift the holds this alert's responses set (false keeps them).
    lift_holds: bool = True


def alert_out(alert: Alert) -> AlertOut:
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
        threshold=alert.threshold,
        observed=alert.observed,
        window_seconds=alert.window_seconds,
        lookback=alert.lookback,
        details=dict(alert.details),
        responses=list(alert.responses),
        verdict=alert.verdict,
        note=alert.note,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at,
        resolved_by=alert.resolved_by,
        resolved_at=alert.resolved_at,
    )


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(
    _security: SecurityDep,
    session: SessionDep,
    status: Annotated[AlertStatus | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    user: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIST)] = 100,
) -> list[AlertOut]:
    found = service.list_alerts(session=session, status=status, severity=severity, user=user, limit=limit)
    return [alert_out(a) for a in found]


@router.get("/alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: str, _security: SecurityDep, session: SessionDep) -> AlertOut:
    """One alert, explained: its numbers and its evidence entries with titles and names."""
    alert = service.get_alert(session=session, alert_id=alert_id)
    entries = evidence_entries(session=session, seqs=alert.evidence)
    return alert_out(alert).model_copy(
        update={"evidence_entries": entries, "holds": _holds_of(session, alert.id)}
    )


def _holds_of(session: Session, alert_id: str) -> list[HoldOut]:
    found = holds_set_by_alert(session, alert_id=alert_id, active_only=False)
    return [hold_out(hold, full=True) for hold in found]


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut)
def acknowledge(
    alert_id: str, body: AlertChange, security: SecurityDep, session: SessionDep, now: NowDep
) -> AlertOut:
    alert = service.acknowledge(
        session=session,
        actor=security.username,
        alert_id=alert_id,
        note=body.note,
        verdict=body.verdict,
        now=now,
    )
    return alert_out(alert)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve(
    alert_id: str, body: AlertResolve, security: SecurityDep, session: SessionDep, now: NowDep
) -> AlertOut:
    alert = service.resolve(
        session=session,
        actor=security.username,
        alert_id=alert_id,
        note=body.note,
        verdict=body.verdict,
        lift_holds=body.lift_holds,
        now=now,
    )
    return alert_out(alert).model_copy(update={"holds": _holds_of(session, alert.id)})
