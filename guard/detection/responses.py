"""What a rule does besides raising its alert: notify, suspend, require approval, watch a team. Each step is
audited; suspending and requiring approval are holds that name the alert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.detection.models import Alert
from guard.detection.watches import watch_team
from guard.notifications.service import notify
from guard.people.holds import place_hold
from guard.people.models import User
from guard.people.service import security_team
from guard.policies.rules import DETECTION_ACTOR
from guard.types import HoldKind, Lifecycle

REASON_LIMIT = 500


def _notify(session: Session, alert: Alert, user: User | None, now: datetime) -> dict[str, Any]:
    manager = session.get(User, user.manager_id) if user is not None and user.manager_id else None
    recipients = [*security_team(session), *([manager.username] if manager else [])]
    notify(
        session=session,
        recipients=recipients,
        kind="alert",
        subject=f"[{alert.severity}] {alert.rule}: {alert.username}",
        body=alert.summary,
        data={"alert_id": alert.id, "rule": alert.rule, "severity": alert.severity, "user": alert.username},
        now=now,
    )
    return {"done": True, "recipients": recipients}


def _hold(session: Session, alert: Alert, user: User, kind: HoldKind, now: datetime) -> dict[str, Any]:
    """Put the person on a hold that names this alert; resolving the alert as a false positive lifts it."""
    if user.lifecycle == Lifecycle.DEPARTED:
        return {"done": False, "reason": f"{user.username} has departed"}
    hold = place_hold(
        session=session,
        user=user,
        kind=kind,
        actor=DETECTION_ACTOR,
        reason=f"alert {alert.id} ({alert.rule}): {alert.summary}"[:REASON_LIMIT],
        alert_id=alert.id,
        now=now,
    )
    return {"done": True, "hold_id": hold.id}


def respond(
    *, session: Session, alert: Alert, responses: Sequence[str], now: datetime
) -> list[dict[str, Any]]:
    """Carry out `responses` for the alert's person; the results are stored on the alert."""
    user = session.scalars(select(User).where(User.username == alert.username)).first()
    results: list[dict[str, Any]] = []
    for response in responses:
        if response == "notify":
            result = _notify(session, alert, user, now)
        elif response == "watch_team":  # the alert names a team, not a person
            result = watch_team(session, alert, now)
        elif user is None:
            result = {"done": False, "reason": "no person with this username in Guard"}
        elif response == "suspend":
            result = _hold(session, alert, user, HoldKind.SUSPENDED, now)
        elif response == "require_approval":
            result = _hold(session, alert, user, HoldKind.REVIEW, now)
        else:  # the rule schema only allows the four above
            result = {"done": False, "reason": f"unknown response {response!r}"}
        result = {"response": response, **result}
        results.append(result)
        record(
            session=session,
            actor=DETECTION_ACTOR,
            action="detection.response",
            target=f"user:{alert.username}",
            payload={"alert_id": alert.id, "rule": alert.rule, **result},
            ts=now,
        )
    alert.responses = results
    return results
