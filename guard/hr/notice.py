"""A resignation: the notice period (stricter profile, watchlist, people told, handover opened), changes to
its dates or successor while it runs, and its withdrawal."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.access.standing import refusal_now, void_grants
from guard.hr import handovers
from guard.hr.models import Departure, Handover, HrEvent, WatchlistEntry
from guard.hr.portfolio import custodians_of_customers, is_available, username_of
from guard.notifications.service import notify
from guard.people.holds import set_lifecycle
from guard.people.models import User
from guard.people.service import security_team
from guard.policies.access import AccessPolicy
from guard.types import Lifecycle

SCHEDULED, DEPARTED, WITHDRAWN = "scheduled", "departed", "withdrawn"


def recipient_for(session: Session, user: User, successor_id: str | None, now: datetime) -> User | None:
    """Who takes the customers over: the named successor, else the manager, while they are available."""
    for candidate_id in (successor_id, user.manager_id):
        candidate = session.get(User, candidate_id) if candidate_id else None
        if candidate is not None and candidate.id != user.id and is_available(candidate, now):
            return candidate
    return None


def open_departure(session: Session, user_id: str) -> Departure | None:
    return session.scalars(
        select(Departure).where(Departure.user_id == user_id, Departure.state == SCHEDULED).with_for_update()
    ).first()


def _watchlist_entry(session: Session, departure_id: str) -> WatchlistEntry | None:
    return session.scalars(
        select(WatchlistEntry).where(
            WatchlistEntry.departure_id == departure_id, WatchlistEntry.closed_at.is_(None)
        )
    ).first()


def close_watchlist(session: Session, departure_id: str, *, reason: str, now: datetime) -> bool:
    entry = _watchlist_entry(session, departure_id)
    if entry is None:
        return False
    entry.closed_at, entry.close_reason = now, reason
    session.flush()
    return True


def schedule(
    *,
    session: Session,
    user: User,
    event: HrEvent,
    kind: str,
    notice_date: date,
    last_working_date: date,
    access_ends_at: datetime,
    now: datetime,
) -> Departure:
    """Record the departure and set the end of access: from `access_ends_at` every credential is refused,
    whether or not anything else runs."""
    departure = Departure(
        user_id=user.id,
        event_id=event.id,
        type=kind,
        state=SCHEDULED,
        notice_date=notice_date,
        last_working_date=last_working_date,
        access_ends_at=access_ends_at,
        successor_id=event.successor_id,
        created_at=now,
    )
    session.add(departure)
    user.access_ends_at = access_ends_at
    user.updated_at = now
    session.flush()
    return departure


def start_notice(
    *, session: Session, user: User, departure: Departure, actor: str, policy: AccessPolicy, now: datetime
) -> list[str]:
    """Move the person to notice (their holds stay on top) and void the open grants the leaver profile no
    longer allows, in the caller's transaction."""
    applied: list[str] = []
    if user.lifecycle == Lifecycle.ACTIVE:
        set_lifecycle(session, user, Lifecycle.NOTICE, now=now)
    if user.status == Lifecycle.NOTICE:
        applied.append("status:notice")
    else:  # a suspended person who resigns stays suspended; the hold is lifted separately
        applied.append(f"lifecycle:notice; status:{user.status} (kept by a hold)")
    voided = void_grants(
        session=session,
        user=user,
        actor=actor,
        now=now,
        refusal=lambda grant: refusal_now(policy, user=user, grant=grant),
    )
    applied.append(f"grants:voided {voided}")
    applied.append(f"access_ends:{departure.access_ends_at.isoformat()}")
    session.add(WatchlistEntry(user_id=user.id, departure_id=departure.id, opened_at=now))
    applied.append("watchlist:opened")
    recipient = recipient_for(session, user, departure.successor_id, now)
    handover = handovers.open_handover(
        session=session,
        departure_id=departure.id,
        leaver=user,
        recipient_id=recipient.id if recipient else None,
        now=now,
    )
    items = len(handovers.view(session, handover).items)
    applied.append(
        f"handover:opened {handover.id} ({items} items, to {recipient.username if recipient else 'nobody'})"
    )
    applied.append(
        tell(session, user=user, departure=departure, handover=handover, kind="hr.notice", now=now)
    )
    return applied


def update_notice(
    *,
    session: Session,
    user: User,
    departure: Departure,
    notice_date: date,
    last_working_date: date,
    access_ends_at: datetime,
    successor_id: str | None,
    now: datetime,
) -> list[str]:
    """HR corrects a running notice: new dates and/or a (new) successor."""
    applied: list[str] = []
    if (departure.notice_date, departure.last_working_date) != (notice_date, last_working_date):
        departure.notice_date, departure.last_working_date = notice_date, last_working_date
        departure.access_ends_at = user.access_ends_at = access_ends_at
        applied.append(f"access_ends:{access_ends_at.isoformat()}")
    handover = handovers.handover_for(session, departure.id)
    if successor_id is not None and successor_id != departure.successor_id:
        departure.successor_id = successor_id
        applied.append(f"successor:{username_of(session, successor_id)}")
        recipient = recipient_for(session, user, successor_id, now)
        if handover is not None and handover.status == handovers.OPEN and recipient is not None:
            handover.recipient_id = recipient.id
    if not applied:
        return applied
    user.updated_at = now
    session.flush()
    applied.append(
        tell(session, user=user, departure=departure, handover=handover, kind="hr.notice_changed", now=now)
    )
    return applied


def withdraw(*, session: Session, user: User, departure: Departure, now: datetime) -> list[str]:
    applied: list[str] = []
    if user.lifecycle == Lifecycle.NOTICE:
        set_lifecycle(session, user, Lifecycle.ACTIVE, now=now)
        applied.append("status:active")
    user.access_ends_at = None
    user.updated_at = now
    applied.append("access_ends:cleared")
    departure.state, departure.withdrawn_at = WITHDRAWN, now
    if close_watchlist(session, departure.id, reason=WITHDRAWN, now=now):
        applied.append("watchlist:closed")
    handover = handovers.handover_for(session, departure.id)
    if handover is not None and handover.status == handovers.OPEN:
        handovers.finish(session, handover, status=handovers.CANCELLED, now=now)
        applied.append(f"handover:cancelled {handover.id}")
    session.flush()
    applied.append(
        tell(session, user=user, departure=departure, handover=handover, kind="hr.withdrawal", now=now)
    )
    return applied


SUBJECTS = {
    "hr.notice": "{name} has resigned; last working day {last}",
    "hr.notice_changed": "{name}'s notice changed; last working day {last}",
    "hr.withdrawal": "{name} has withdrawn their resignation",
    "hr.termination": "{name} has left the company",
    "hr.departed": "{name} has left the company",
}
BODIES = {
    "manager": "Your report {name} is leaving. Their customers go to {recipient}.",
    "successor": "You take over {name}'s customers and documents: acknowledge each item of handover "
    "{handover}.",
    "custodian": "{name} is leaving: do not hand them sensitive material about their customers.",
    "security": "{name} is on the leaver watchlist; review their recent activity and exposure report.",
}
WITHDRAWN_BODY = "{name} stays with the company: the handover is cancelled and access is back to normal."


def tell(
    session: Session, *, user: User, departure: Departure, handover: Handover | None, kind: str, now: datetime
) -> str:
    """One notification per audience (manager, successor, custodians, security); returns the line for the
    list of applied changes that says who was told."""
    handover_id = handover.id if handover else None
    recipient = recipient_for(session, user, departure.successor_id, now)
    audiences: dict[str, list[str | None]] = {
        "manager": [username_of(session, user.manager_id)],
        "successor": [recipient.username if recipient else None],
        "custodian": list(custodians_of_customers(session, user.id)),
        "security": list(security_team(session)),
    }
    if kind in ("hr.termination", "hr.departed"):
        audiences.pop("custodian")  # their documents are no longer at risk from someone who cannot log in
    facts = {
        "name": user.display_name or user.username,
        "last": departure.last_working_date.isoformat() if departure.last_working_date else "today",
        "recipient": recipient.username if recipient else "nobody yet (no successor or manager available)",
        "handover": handover_id or "-",
    }
    data: dict[str, object] = {
        "user": user.username,
        "departure_id": departure.id,
        "handover_id": handover_id,
        "last_working_date": facts["last"],
        "successor": recipient.username if recipient else None,
    }
    told: list[str] = []
    already: set[str] = {user.username}
    for audience, names in audiences.items():
        people = [n for n in names if n is not None and n not in already]
        if not people:
            continue
        already.update(people)
        body = WITHDRAWN_BODY if kind == "hr.withdrawal" else BODIES[audience]
        notify(
            session=session,
            recipients=people,
            kind=kind,
            subject=SUBJECTS[kind].format(**facts),
            body=body.format(**facts),
            data={**data, "audience": audience},
            now=now,
        )
        told.extend(f"{audience} {n}" for n in people)
    return "notified:" + ",".join(told)
