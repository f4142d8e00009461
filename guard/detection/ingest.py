"""Events from other systems (a CRM's export log, a file share, a mail gateway), chained into the audit
log so the rules see them like Guard's own. A batch is checked whole before anything is stored."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from guard.audit.actions import RESERVED_ACTION_FAMILIES, RESERVED_SOURCES, family_of
from guard.audit.log import record
from guard.bounds import check_time
from guard.errors import InvalidInput
from guard.people.models import User

MAX_BATCH = 1000
MAX_CLOCK_SKEW = timedelta(minutes=5)
ACTION = re.compile(r"^[a-z0-9_-]{1,40}(\.[a-z0-9_-]{1,40}){1,3}$")
SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


@dataclass(frozen=True)
class ExternalEvent:
    ts: datetime
    actor: str
    action: str
    source: str
    target: str = ""
    customer_id: str | None = None
    count: int | None = None


def _check(index: int, event: ExternalEvent, now: datetime) -> None:
    where = f"events[{index}]"
    check_time(event.ts, f"{where}.ts")
    if event.ts > now + MAX_CLOCK_SKEW:
        raise InvalidInput(f"{where}.ts: {event.ts.isoformat()} is in the future")
    if not ACTION.match(event.action):
        raise InvalidInput(f"{where}.action: {event.action!r} must look like 'system.verb', e.g. crm.export")
    if family_of(event.action) in RESERVED_ACTION_FAMILIES:
        family = family_of(event.action)
        raise InvalidInput(
            f"{where}.action: {family!r} actions are Guard's own; name your system, e.g. crm.export"
        )
    if event.source.strip().lower() in RESERVED_SOURCES:
        raise InvalidInput(f"{where}.source: {event.source!r} is Guard itself; name the system that sent it")
    if not SOURCE.match(event.source):
        raise InvalidInput(f"{where}.source: a short lower-case name such as 'crm'")
    if not event.actor.strip() or ":" in event.actor:
        raise InvalidInput(f"{where}.actor: the username or email of the person who acted")


def ingest_events(
    *, session: Session, ingested_by: str, events: Sequence[ExternalEvent], now: datetime
) -> int:
    """Record every event, or none: any bad item refuses the whole batch."""
    if not events:
        raise InvalidInput("send at least one event")
    if len(events) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} events per request; split the batch")
    for index, event in enumerate(events):
        _check(index, event, now)
    people = _people(session, {e.actor for e in events})
    for event in events:
        person = people.get(event.actor.lower())
        payload: dict[str, object] = {
            "source": event.source,
            "external": True,
            "count": event.count if event.count is not None else 1,
            "ingested_by": ingested_by,
        }
        if event.customer_id:
            payload["customer_id"] = event.customer_id
        if person is not None:
            # The person's status now (the event is at most minutes old in practice) lets leaver rules apply.
            payload["status"] = person.status
            if person.username != event.actor:
                payload["reported_actor"] = event.actor
        record(
            session=session,
            actor=person.username if person is not None else event.actor,
            action=event.action,
            target=event.target,
            payload=payload,
            ts=event.ts,
        )
    return len(events)


def _people(session: Session, refs: set[str]) -> dict[str, User]:
    """Actors as sent (username or email, any case) -> the person, for those Guard knows."""
    lowered = {r.lower() for r in refs}
    users = session.scalars(
        select(User).where(or_(func.lower(User.username).in_(lowered), User.email.in_(lowered)))
    ).all()
    found: dict[str, User] = {}
    for user in users:
        found[user.username.lower()] = user
        found[user.email.lower()] = user
    return found
