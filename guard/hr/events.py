"""HR events (resignation, termination, withdrawal): validated, applied once, audited.

Every event locks the employee's row first, so events about one person (API, inbox, sweeper) apply one
at a time. An event is applied once: the same idempotency key, or the same content as the employee's
latest event, answers with the earlier event's id and applies nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.bounds import check_date
from guard.detection.lookback import queue_lookback
from guard.errors import Conflict, InvalidInput, NotFound
from guard.hr import handovers, notice
from guard.hr.calendar import end_of_workday, today
from guard.hr.departure import audit_departure, depart
from guard.hr.models import Departure, HrEvent
from guard.hr.portfolio import is_available
from guard.people.models import User
from guard.people.service import find_user
from guard.policies.access import AccessPolicy
from guard.settings import HrSettings
from guard.types import Lifecycle

EventType = Literal["resignation", "termination", "withdrawal"]
EVENT_TYPES: tuple[str, ...] = ("resignation", "termination", "withdrawal")


@dataclass(frozen=True)
class EventInput:
    """An event as HR sent it; dates are HR's local dates (see hr.timezone)."""

    employee: str
    type: str
    notice_date: date | None = None
    last_working_date: date | None = None
    successor: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class EventResult:
    id: str
    employee: str
    type: str
    status: str
    applied: list[str]
    duplicate: bool


def find_person(session: Session, ref: str, role: str) -> User:
    try:
        return find_user(session=session, ref=ref.strip())
    except NotFound:
        raise InvalidInput(
            f"unknown {role} {ref!r}: no person with that username, email or employee id"
        ) from None


def _lock(session: Session, user: User) -> User:
    return session.scalars(
        select(User).where(User.id == user.id).with_for_update().execution_options(populate_existing=True)
    ).one()


def _same(event: HrEvent, employee_id: str, data: EventInput, successor_id: str | None) -> bool:
    return (
        event.employee_id == employee_id
        and event.type == data.type
        and event.notice_date == data.notice_date
        and event.last_working_date == data.last_working_date
        and (successor_id is None or successor_id == event.successor_id)
    )


def _duplicate(session: Session, event: HrEvent) -> EventResult:
    employee = session.get(User, event.employee_id)
    assert employee is not None  # foreign key
    return EventResult(event.id, employee.username, event.type, employee.status, [], True)


def apply_event(
    *,
    session: Session,
    actor: str,
    data: EventInput,
    source: str,
    hr: HrSettings,
    policy: AccessPolicy,
    now: datetime,
    lookback: bool = True,
) -> EventResult:
    """Apply one HR event. A resignation also queues a look-back: the detection engine judges the
    person's recent past as a leaver's once this transaction has committed."""
    if data.type not in EVENT_TYPES:
        raise InvalidInput(f"type must be one of: {', '.join(EVENT_TYPES)}")
    for name in ("notice_date", "last_working_date"):
        if (value := getattr(data, name)) is not None:
            check_date(value, name)
    key = data.idempotency_key.strip() if data.idempotency_key else None
    if key is not None and not 1 <= len(key) <= 200:
        raise InvalidInput("idempotency_key must be 1 to 200 characters")
    employee = _lock(session, find_person(session, data.employee, "employee"))
    successor = find_person(session, data.successor, "successor") if data.successor else None
    if key is not None:
        earlier = session.scalars(select(HrEvent).where(HrEvent.idempotency_key == key)).first()
        if earlier is not None:
            if not _same(earlier, employee.id, data, successor.id if successor else None):
                raise Conflict(f"idempotency_key {key!r} was already used for a different event")
            return _duplicate(session, earlier)
    latest = session.scalars(
        select(HrEvent)
        .where(HrEvent.employee_id == employee.id)
        .order_by(HrEvent.employee_seq.desc())
        .limit(1)
    ).first()
    if latest is not None and _same(latest, employee.id, data, successor.id if successor else None):
        return _duplicate(session, latest)
    _check_successor(employee, successor, now)
    event = HrEvent(
        employee_id=employee.id,
        type=data.type,
        notice_date=data.notice_date,
        last_working_date=data.last_working_date,
        successor_id=successor.id if successor else None,
        idempotency_key=key,
        employee_seq=(latest.employee_seq if latest else 0) + 1,
        source=source[:200],
        actor=actor[:200],
        applied=[],
        received_at=now,
    )
    session.add(event)
    session.flush()
    departed: tuple[Departure, list[str]] | None = None
    if data.type == "withdrawal":
        applied = _withdrawal(session, employee, now)
    else:
        applied, departed = _departure(
            session, employee, event, data, actor=actor, hr=hr, policy=policy, now=now, lookback=lookback
        )
    event.applied = applied
    session.flush()
    record(
        session=session,
        actor=actor,
        action=f"hr.{data.type}",
        target=f"user:{employee.username}",
        payload={
            "event_id": event.id,
            "employee": employee.username,
            # The team, as the departure-wave rule groups resignations.
            "department": employee.department or None,
            "manager": _manager_name(session, employee),
            "notice_date": data.notice_date.isoformat() if data.notice_date else None,
            "last_working_date": data.last_working_date.isoformat() if data.last_working_date else None,
            "successor": successor.username if successor else None,
            "idempotency_key": key,
            "source": event.source,
            "applied": applied,
        },
        ts=now,
    )
    if departed is not None:  # audited after the event that caused it
        departure, done = departed
        audit_departure(
            session=session, user=employee, departure=departure, applied=done, actor=actor, now=now
        )
    return EventResult(event.id, employee.username, event.type, employee.status, applied, False)


def _check_successor(employee: User, successor: User | None, now: datetime) -> None:
    if successor is None:
        return
    if successor.id == employee.id:
        raise InvalidInput("the successor cannot be the person who is leaving")
    if not is_available(successor, now):
        raise InvalidInput(
            f"successor {successor.username} is {successor.status} and cannot take customers over; "
            "name an active person"
        )


def _dates(data: EventInput, hr: HrSettings, now: datetime) -> tuple[date, date]:
    notice_date = data.notice_date or today(hr, now)
    if data.type == "resignation" and data.last_working_date is None:
        raise InvalidInput("a resignation needs last_working_date")
    last = data.last_working_date or today(hr, now)
    if last < notice_date:
        raise InvalidInput(
            f"last_working_date {last.isoformat()} is before notice_date {notice_date.isoformat()}"
        )
    return notice_date, last


def _departure(
    session: Session,
    user: User,
    event: HrEvent,
    data: EventInput,
    *,
    actor: str,
    hr: HrSettings,
    policy: AccessPolicy,
    now: datetime,
    lookback: bool,
) -> tuple[list[str], tuple[Departure, list[str]] | None]:
    """Schedule, change or cut short a departure; apply it at once when access has already ended."""
    if user.lifecycle == Lifecycle.DEPARTED:
        raise InvalidInput(f"{user.username} has already departed")
    notice_date, last = _dates(data, hr, now)
    termination = data.type == "termination"
    ends_at = now if termination else end_of_workday(hr, last)
    departure = notice.open_departure(session, user.id)
    if departure is None:
        departure = notice.schedule(
            session=session,
            user=user,
            event=event,
            kind=data.type,
            notice_date=notice_date,
            last_working_date=last,
            access_ends_at=ends_at,
            now=now,
        )
        if termination:  # no notice period: the checklist still lists what the recipient takes over
            recipient = notice.recipient_for(session, user, departure.successor_id, now)
            handovers.open_handover(
                session=session,
                departure_id=departure.id,
                leaver=user,
                recipient_id=recipient.id if recipient else None,
                now=now,
            )
            applied = [f"access_ends:{now.isoformat()}"]
        else:
            applied = notice.start_notice(
                session=session, user=user, departure=departure, actor=actor, policy=policy, now=now
            )
            if lookback:
                applied.append(_queue_look_back(session, user, event, hr=hr, now=now))
    elif termination:  # a termination cuts a running notice short
        departure.type, departure.last_working_date = "termination", last
        departure.access_ends_at = user.access_ends_at = now
        if event.successor_id:
            departure.successor_id = event.successor_id
        applied = [f"notice:ended early ({departure.id})"]
    else:
        applied = notice.update_notice(
            session=session,
            user=user,
            departure=departure,
            notice_date=notice_date,
            last_working_date=last,
            access_ends_at=ends_at,
            successor_id=event.successor_id,
            now=now,
        )
        applied = [f"notice:updated ({departure.id})", *applied] if applied else ["nothing new"]
    if departure.access_ends_at <= now:  # a termination, or a last working day already over
        done = depart(session=session, user=user, departure=departure, actor=actor, hr=hr, now=now)
        return [*applied, *done], (departure, done)
    return applied, None


def _manager_name(session: Session, user: User) -> str | None:
    return (
        session.scalar(select(User.username).where(User.id == user.manager_id)) if user.manager_id else None
    )


def _queue_look_back(session: Session, user: User, event: HrEvent, *, hr: HrSettings, now: datetime) -> str:
    queue_lookback(
        session=session,
        username=user.username,
        days=hr.lookback_days,
        as_leaver=True,
        source=f"hr_event:{event.id}",
        now=now,
    )
    return f"lookback:queued over {hr.lookback_days} days"


def _withdrawal(session: Session, user: User, now: datetime) -> list[str]:
    departure = notice.open_departure(session, user.id)
    if departure is None or departure.type != "resignation":
        raise InvalidInput(f"{user.username} has no open resignation to withdraw")
    if departure.access_ends_at <= now:
        raise InvalidInput(
            f"{user.username}'s last working day ended at {departure.access_ends_at.isoformat()}; "
            "a resignation can only be withdrawn before then"
        )
    return notice.withdraw(session=session, user=user, departure=departure, now=now)
