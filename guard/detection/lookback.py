"""Look-back: run the rules over one person's recent past (when a resignation arrives, say).

Alerts raised this way are marked `lookback` and only notify: enforcement (suspend, require approval)
stays with the live rules and the HR lifecycle. Running it twice raises nothing new. At a resignation the
past is judged `as_leaver`: every entry counts as if the person had already been on notice, so the leaver
rules see what was taken in the weeks before the notice, not only what follows it.

A resignation only queues its look-back (`queue_lookback`, in the HR event's transaction); the detection
engine runs the queue afterwards (`run_queued`): the weeks of entries are read outside any write
transaction, and the alerts and the request's completion are committed together in a short one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.db import Database, new_id, transaction
from guard.detection.alerts import raise_alert
from guard.detection.models import Alert, LookbackRequest
from guard.detection.responses import respond
from guard.detection.stream import iter_events
from guard.errors import InvalidInput
from guard.policies.rules import DETECTION_ACTOR, Detection, Detector, RuleSet
from guard.policies.rules.events import Event
from guard.types import Status

log = logging.getLogger("guard.detection")
MAX_DAYS = 3660
LOOKBACK_RESPONSES = ("notify",)
QUEUE_BATCH = 20


def judged_as_leaver(events: Iterable[Event]) -> Iterator[Event]:
    for event in events:
        yield replace(event, status=Status.NOTICE.value) if event.status == Status.ACTIVE else event


def _check_days(days: int) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be between 1 and {MAX_DAYS}")


def find_in_past(
    *,
    session: Session,
    username: str,
    since: datetime,
    rules: RuleSet,
    as_leaver: bool,
    until: datetime | None = None,
) -> list[Detection]:
    """What the rules find in `username`'s entries from `since` (to `until`: later ones are the live
    engine's). Reads only."""
    events: Iterable[Event] = iter_events(session=session, since=since, actor=username)
    if until is not None:
        events = (e for e in events if e.ts <= until)
    if as_leaver:
        events = judged_as_leaver(events)
    return [o for o in Detector(rules.rules).run(events) if isinstance(o, Detection)]


def raise_found(
    *, session: Session, username: str, found: list[Detection], days: int, as_leaver: bool, now: datetime
) -> list[Alert]:
    """Alerts for the findings no alert of the same rule already covers (live or from an earlier
    look-back, resolved or not: an entry judged once is not raised again), their notices, and one audit
    entry."""
    known: set[tuple[str, int]] = set()
    for rule, trigger, evidence in session.execute(
        select(Alert.rule, Alert.trigger_seq, Alert.evidence).where(Alert.username == username)
    ):
        known.add((rule, trigger))
        known.update((rule, seq) for seq in evidence or ())
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


def queue_lookback(
    *, session: Session, username: str, days: int, as_leaver: bool, source: str, now: datetime
) -> LookbackRequest:
    """Ask the engine for a look-back; committed with the caller's transaction."""
    _check_days(days)
    request = LookbackRequest(
        id=new_id(), username=username, days=days, as_leaver=as_leaver, source=source[:200], requested_at=now
    )
    session.add(request)
    return request


def run_queued(*, db: Database, rules: RuleSet, now: datetime, limit: int = QUEUE_BATCH) -> int:
    """Run pending look-backs, oldest first; returns how many were completed. Each one is read in a read
    session and committed in its own short unit, marked done there; a request another engine finished
    meanwhile is left alone."""
    with db.read() as session:
        pending = list(
            session.scalars(
                select(LookbackRequest)
                .where(LookbackRequest.done_at.is_(None))
                .order_by(LookbackRequest.requested_at, LookbackRequest.id)
                .limit(limit)
            )
        )
    done = 0
    for request in pending:
        since = request.requested_at - timedelta(days=request.days)
        with db.read() as session:
            found = find_in_past(
                session=session,
                username=request.username,
                since=since,
                rules=rules,
                as_leaver=request.as_leaver,
                until=request.requested_at,
            )
        with transaction(db.write) as session:
            row = session.scalars(
                select(LookbackRequest).where(LookbackRequest.id == request.id).with_for_update()
            ).one()
            if row.done_at is not None:
                continue
            alerts = raise_found(
                session=session,
                username=row.username,
                found=found,
                days=row.days,
                as_leaver=row.as_leaver,
                now=now,
            )
            row.done_at, row.alerts = now, [a.id for a in alerts]
        done += 1
        log.info(
            "look-back done",
            extra={"user": request.username, "alerts": len(alerts), "source": request.source},
        )
    return done
