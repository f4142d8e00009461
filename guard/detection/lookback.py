"""Look-back: run the rules over one person's recent past (when a resignation arrives, say).

Alerts raised this way are marked `lookback` and only notify: enforcement (suspend, require approval)
stays with the live rules and the HR lifecycle. Running it twice raises nothing new.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.detection.alerts import raise_alert
from guard.detection.models import Alert
from guard.detection.responses import respond
from guard.detection.stream import iter_events
from guard.errors import InvalidInput
from guard.policies.rules import DETECTION_ACTOR, Detection, Detector, RuleSet

MAX_DAYS = 3660
LOOKBACK_RESPONSES = ("notify",)


def lookback(
    *, session: Session, username: str, now: datetime, rules: RuleSet, days: int = 90
) -> list[Alert]:
    """Alerts for what the rules find in `username`'s entries of the last `days` days (new ones only)."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}")
    detector = Detector(rules.rules)
    events = iter_events(session=session, since=now - timedelta(days=days), actor=username)
    found = [o for o in detector.run(events) if isinstance(o, Detection)]
    known = {
        (rule, seq)
        for rule, seq in session.execute(
            select(Alert.rule, Alert.trigger_seq).where(Alert.username == username, Alert.lookback.is_(True))
        )
    }
    alerts = []
    for detection in found:
        if (detection.rule.name, detection.seq) in known:
            continue
        alert = raise_alert(session=session, detection=detection, now=now, lookback=True)
        wanted = [r for r in detection.rule.spec.responses if r in LOOKBACK_RESPONSES]
        respond(session=session, alert=alert, responses=wanted, now=now)
        alerts.append(alert)
    record(
        session=session,
        actor=DETECTION_ACTOR,
        action="detection.lookback",
        target=f"user:{username}",
        payload={"user": username, "days": days, "alerts": [a.id for a in alerts], "found": len(found)},
        ts=now,
    )
    return alerts
