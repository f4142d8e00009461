"""Alerts: raised from a rule's finding, listed and worked by the security team. Every change is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.detection.models import Alert
from guard.errors import Conflict, NotFound
from guard.people import holds
from guard.policies.rules import DETECTION_ACTOR, Detection

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
Verdict = Literal["true_positive", "false_positive"]
MAX_LIST = 1000


def raise_alert(*, session: Session, detection: Detection, now: datetime, lookback: bool = False) -> Alert:
    finding, spec = detection.finding, detection.rule.spec
    alert = Alert(
        rule=spec.name,
        rule_type=spec.type,
        severity=spec.severity,
        username=finding.user,
        status=OPEN,
        summary=finding.summary[:1000],
        threshold=float(finding.threshold),
        observed=float(finding.observed),
        window_seconds=int(finding.window.total_seconds()) if finding.window is not None else None,
        evidence=list(finding.evidence),
        trigger_seq=detection.seq,
        event_ts=finding.ts,
        lookback=lookback,
        details=dict(finding.details),
        responses=[],
        created_at=now,
    )
    session.add(alert)
    session.flush()
    record(
        session=session,
        actor=DETECTION_ACTOR,
        action="detection.alert",
        target=f"user:{finding.user}",
        payload={
            "alert_id": alert.id,
            "rule": spec.name,
            "rule_type": spec.type,
            "severity": spec.severity,
            "observed": alert.observed,
            "threshold": alert.threshold,
            "window_seconds": alert.window_seconds,
            "evidence": alert.evidence,
            "lookback": lookback,
            "summary": alert.summary,
        },
        ts=now,
    )
    return alert


def list_alerts(
    *,
    session: Session,
    status: str | None = None,
    severity: str | None = None,
    user: str | None = None,
    limit: int = 100,
) -> list[Alert]:
    """Newest first."""
    query = select(Alert)
    if status:
        query = query.where(Alert.status == status)
    if severity:
        query = query.where(Alert.severity == severity)
    if user:
        query = query.where(Alert.username == user)
    query = query.order_by(Alert.created_at.desc(), Alert.trigger_seq.desc()).limit(min(limit, MAX_LIST))
    return list(session.scalars(query))


def get_alert(*, session: Session, alert_id: str, for_update: bool = False) -> Alert:
    query = select(Alert).where(Alert.id == alert_id)
    alert = session.scalars(query.with_for_update() if for_update else query).first()
    if alert is None:
        raise NotFound(f"no alert with id {alert_id!r}")
    return alert


def _change(
    *,
    session: Session,
    actor: str,
    alert_id: str,
    to: str,
    allowed_from: tuple[str, ...],
    note: str,
    verdict: Verdict | None,
    now: datetime,
) -> Alert:
    alert = get_alert(session=session, alert_id=alert_id, for_update=True)
    if alert.status not in allowed_from:
        raise Conflict(f"alert {alert_id} is already {alert.status}")
    before = alert.status
    alert.status = to
    alert.note = note
    if verdict is not None:
        alert.verdict = verdict
    if to == ACKNOWLEDGED:
        alert.acknowledged_by, alert.acknowledged_at = actor, now
    else:
        alert.resolved_by, alert.resolved_at = actor, now
    session.flush()
    record(
        session=session,
        actor=actor,
        action=f"alert.{'acknowledge' if to == ACKNOWLEDGED else 'resolve'}",
        target=f"alert:{alert.id}",
        payload={
            "alert_id": alert.id,
            "rule": alert.rule,
            "user": alert.username,
            "from": before,
            "to": to,
            "note": note,
            "verdict": verdict,
        },
        ts=now,
    )
    return alert


def acknowledge(
    *, session: Session, actor: str, alert_id: str, note: str, verdict: Verdict | None = None, now: datetime
) -> Alert:
    """Someone is looking at it."""
    return _change(
        session=session,
        actor=actor,
        alert_id=alert_id,
        to=ACKNOWLEDGED,
        allowed_from=(OPEN,),
        note=note,
        verdict=verdict,
        now=now,
    )


def resolve(
    *,
    session: Session,
    actor: str,
    alert_id: str,
    note: str,
    now: datetime,
    verdict: Verdict | None = None,
    lift_holds: bool = True,
) -> Alert:
    """Closed, with a note and (ideally) whether it was a real problem. A false positive also lifts the
    holds this alert's responses set, unless `lift_holds` is False."""
    alert = _change(
        session=session,
        actor=actor,
        alert_id=alert_id,
        to=RESOLVED,
        allowed_from=(OPEN, ACKNOWLEDGED),
        note=note,
        verdict=verdict,
        now=now,
    )
    if verdict == "false_positive" and lift_holds:
        for hold in holds.holds_set_by_alert(session, alert_id=alert.id):
            holds.lift_holds(
                session=session,
                user=holds.get_hold_owner(session, hold),
                kind=hold.kind,
                actor=actor,
                reason=f"alert {alert.id} resolved as a false positive: {note}",
                alert_id=alert.id,
                now=now,
            )
    return alert
