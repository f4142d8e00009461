"""Reading the HR records: the departures archive, the leaver watchlist, one person's exposure report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from guard.errors import InvalidInput, NotFound
from guard.hr import exposure, handovers
from guard.hr.models import Departure, HrEvent, WatchlistEntry
from guard.hr.notice import DEPARTED, SCHEDULED, WITHDRAWN
from guard.hr.portfolio import username_of
from guard.people.models import User
from guard.settings import HrSettings

STATES = (SCHEDULED, DEPARTED, WITHDRAWN)


@dataclass(frozen=True)
class DepartureRecord:
    id: str
    user: str
    display_name: str
    type: str
    state: str
    notice_date: date | None
    last_working_date: date | None
    access_ends_at: datetime
    departed_at: datetime | None
    withdrawn_at: datetime | None
    successor: str | None
    recipient: str | None
    handover: dict[str, Any] | None
    exposure: dict[str, Any] | None
    reported_by: str
    reported_at: datetime


def list_departures(
    *, session: Session, state: str | None = None, username: str | None = None, limit: int = 500
) -> list[DepartureRecord]:
    """Newest first. Departed ones carry the exposure summary taken at departure."""
    if state is not None and state not in STATES:
        raise InvalidInput(f"state must be one of: {', '.join(STATES)}")
    person = aliased(User)
    query = (
        select(Departure, person, HrEvent)
        .join(person, person.id == Departure.user_id)
        .join(HrEvent, HrEvent.id == Departure.event_id)
        .order_by(Departure.created_at.desc(), HrEvent.employee_seq.desc())
        .limit(limit)
    )
    if state is not None:
        query = query.where(Departure.state == state)
    if username is not None:
        query = query.where(person.username == username)
    records = []
    for departure, user, event in session.execute(query).all():
        handover = handovers.handover_for(session, departure.id)
        summary = departure.summary or {}
        records.append(
            DepartureRecord(
                id=departure.id,
                user=user.username,
                display_name=user.display_name,
                type=departure.type,
                state=departure.state,
                notice_date=departure.notice_date,
                last_working_date=departure.last_working_date,
                access_ends_at=departure.access_ends_at,
                departed_at=departure.departed_at,
                withdrawn_at=departure.withdrawn_at,
                successor=username_of(session, departure.successor_id),
                recipient=summary.get("recipient")
                or (username_of(session, handover.recipient_id) if handover else None),
                handover=summary.get("handover")
                or (handovers.view(session, handover).summary() if handover else None),
                exposure=summary.get("exposure"),
                reported_by=event.actor,
                reported_at=event.received_at,
            )
        )
    return records


@dataclass(frozen=True)
class WatchlistRecord:
    id: str
    user: str
    departure_id: str
    last_working_date: date | None
    opened_at: datetime
    closed_at: datetime | None
    close_reason: str | None


def list_watchlist(*, session: Session, include_closed: bool = False) -> list[WatchlistRecord]:
    query = (
        select(WatchlistEntry, User.username, Departure.last_working_date)
        .join(User, User.id == WatchlistEntry.user_id)
        .join(Departure, Departure.id == WatchlistEntry.departure_id)
        .order_by(WatchlistEntry.opened_at.desc(), User.username)
    )
    if not include_closed:
        query = query.where(WatchlistEntry.closed_at.is_(None))
    return [
        WatchlistRecord(e.id, username, e.departure_id, last_day, e.opened_at, e.closed_at, e.close_reason)
        for e, username, last_day in session.execute(query).all()
    ]


def exposure_report(*, session: Session, username: str, hr: HrSettings, now: datetime) -> dict[str, Any]:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no person with username {username!r}")
    return exposure.report(session=session, user=user, hr=hr, now=now)
