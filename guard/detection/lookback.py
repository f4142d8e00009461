"""Look-back: run the rules over one person's recent past (when a resignation arrives, say).

Alerts raised this way are marked `lookback` and only notify: enforcement (suspend, require approval)
stays with the live rules and the HR lifecycle. Running it twice raises nothing new. At a resignation the
past is judged `as_leaver`: every entry counts as if the person had already been on notice, so the leaver
rules see what was taken in the weeks before the notice, not only what follows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
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
from guard.policies.rules.events import Event
from guard.types import Status

MAX_DAYS = 3660
LOOKBACK_RESPONSES = ("notify",)


def _as_leaver(events: Iterable[Event]) -> Iterator[Event]:
    for event in events:
        yield replace(event, status=Status.NOTICE.value) if event.status == Status.ACTIVE else event


def lookback(
    *,
    session: Session,
    username: str,
    now: datetime,
    rules: RuleSet,
    days: int = 90,
    as_leaver: bool = False,
) -> list[Alert]:
    """Alerts for what the rules find in `username`'s entries of the last `days` days (new ones only)."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}")
    detector = Detector(rules.rules)
    events: Iterable[Event] = iter_events(session=session, since=now - timedelta(days=days), actor=username)
    if as_leaver:
        events = _as_leaver(events)
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
        payload={
            "user": username,
            "days": days,
            "as_leaver": as_leaver,
            "alerts": [a.id for a in alerts],
            "found": len(found),
        },
        ts=now,
    )
    return alerts
