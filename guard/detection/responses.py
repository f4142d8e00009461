"""What a rule does besides raising its alert: notify, suspend, require approval. Each step is audited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.detection.models import Alert
from guard.notifications.service import notify
from guard.people.models import User
from guard.people.service import update_user
from guard.policies.rules import DETECTION_ACTOR
from guard.types import WORKING_STATUSES, Role, Status

REASON_LIMIT = 500


def security_team(session: Session) -> list[str]:
    people = session.scalars(select(User).where(User.status.in_(list(WORKING_STATUSES))))
    return sorted(u.username for u in people if Role.SECURITY in u.roles)


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


def _suspend(session: Session, alert: Alert, user: User, now: datetime) -> dict[str, Any]:
    if user.status not in WORKING_STATUSES:
        return {"done": False, "reason": f"{user.username} is already {user.status}"}
    # update_user records the change and revokes every token the person holds.
    update_user(
        session=session, actor=DETECTION_ACTOR, user_id=user.id, status=Status.SUSPENDED.value, now=now
    )
    return {"done": True}


def _require_approval(session: Session, alert: Alert, user: User, now: datetime) -> dict[str, Any]:
    user.approval_required_reason = f"alert {alert.id} ({alert.rule}): {alert.summary}"[:REASON_LIMIT]
    user.updated_at = now
    session.flush()
    return {"done": True}


def respond(
    *, session: Session, alert: Alert, responses: Sequence[str], now: datetime
) -> list[dict[str, Any]]:
    """Carry out `responses` for the alert's person; the results are stored on the alert."""
    user = session.scalars(select(User).where(User.username == alert.username)).first()
    results: list[dict[str, Any]] = []
    for response in responses:
        if response == "notify":
            result = _notify(session, alert, user, now)
        elif user is None:
            result = {"done": False, "reason": "no person with this username in Guard"}
        elif response == "suspend":
            result = _suspend(session, alert, user, now)
        elif response == "require_approval":
            result = _require_approval(session, alert, user, now)
        else:  # the rule schema only allows the three above
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
