"""Departure: the last working day has ended (or a termination takes effect at once).

Access already ended at `users.access_ends_at`; this makes it permanent and tidies up: status, every
token and key, pending requests and uncollected grants, ownership and custody to the successor (or the
manager), the handover closed, the watchlist entry closed and the departure archived with its exposure.
The sweeper calls it for due departures; enforcement never waits for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guard.access.approvals import end_access_for
from guard.audit.log import record
from guard.customers.service import transfer_portfolio
from guard.db import transaction
from guard.documents.service import transfer_custody
from guard.hr import handovers
from guard.hr.exposure import exposure_totals
from guard.hr.models import Departure
from guard.hr.notice import DEPARTED, SCHEDULED, close_watchlist, recipient_for, tell
from guard.hr.portfolio import holdings, revoke_api_keys
from guard.people.holds import set_lifecycle
from guard.people.models import User
from guard.people.sessions import revoke_sessions
from guard.settings import HrSettings
from guard.types import Lifecycle

log = logging.getLogger("guard.hr")
SWEEP_ACTOR = "hr-sweeper"
DEPARTED_NOTE = "the requester has departed"


def depart(
    *, session: Session, user: User, departure: Departure, actor: str, hr: HrSettings, now: datetime
) -> list[str]:
    """Apply a departure in the caller's transaction (the user row is already locked by the caller)."""
    applied = [f"status:{Lifecycle.DEPARTED.value}"]
    set_lifecycle(session, user, Lifecycle.DEPARTED, now=now)
    if user.access_ends_at is None or user.access_ends_at > now:
        user.access_ends_at = now
    user.updated_at = now
    revoke_sessions(session=session, user=user, now=now)
    applied.append("sessions:revoked")
    keys = revoke_api_keys(session, user.id, now)
    applied.append(f"api_keys:revoked {keys}")
    ended = end_access_for(session=session, user_id=user.id, actor=actor, note=DEPARTED_NOTE, now=now)
    applied.append(f"requests:cancelled {ended['cancelled']}")
    applied.append(f"grants:voided {ended['revoked']}")

    handover = handovers.handover_for(session, departure.id)
    if handover is not None and handover.status == handovers.OPEN:
        handovers.add_new_holdings(session, handover)
    recipient = recipient_for(session, user, departure.successor_id, now)
    customer_ids: list[str] = []
    document_ids: list[str] = []
    if recipient is not None:
        customer_ids = transfer_portfolio(
            session=session, actor=actor, from_user_id=user.id, to_user_id=recipient.id, now=now
        )
        document_ids = transfer_custody(
            session=session, actor=actor, from_user_id=user.id, to_user_id=recipient.id, now=now
        )
        moved = f"{len(customer_ids)} customers, {len(document_ids)} documents"
        applied.append(f"transferred:{moved} to {recipient.username}")
    else:
        left = holdings(session, user.id)
        applied.append(
            f"transferred:nothing (no available successor or manager; {len(left)} items stay unassigned)"
        )

    handover_summary: dict[str, object] | None = None
    if handover is not None:
        if handover.status == handovers.OPEN:
            if recipient is not None:
                handover.recipient_id = recipient.id
            handovers.finish(session, handover, status=handovers.CLOSED, now=now)
        handover_summary = handovers.view(session, handover).summary()
        done = f"{handover_summary['acknowledged']}/{handover_summary['items']}"
        applied.append(f"handover:closed {handover.id} ({done} acknowledged)")
    if close_watchlist(session, departure.id, reason=DEPARTED, now=now):
        applied.append("watchlist:closed")

    departure.state, departure.departed_at = DEPARTED, now
    session.flush()
    exposure = exposure_totals(session=session, user=user, departure=departure, hr=hr, now=now)
    departure.summary = {
        "exposure": exposure,
        "handover": handover_summary,
        "recipient": recipient.username if recipient else None,
        "customer_ids": customer_ids,
        "document_ids": document_ids,
        "cancelled_requests": ended["cancelled"],
        "voided_grants": ended["revoked"],
        "api_keys_revoked": keys,
    }
    session.flush()
    applied.append(
        tell(session, user=user, departure=departure, handover=handover, kind="hr.departed", now=now)
    )
    applied.append("archived")
    return applied


def audit_departure(
    *, session: Session, user: User, departure: Departure, applied: list[str], actor: str, now: datetime
) -> None:
    """`hr.departed`, recorded after the event that caused it (when there is one)."""
    record(
        session=session,
        actor=actor,
        action="hr.departed",
        target=f"user:{user.username}",
        payload={
            "departure_id": departure.id,
            "type": departure.type,
            **(departure.summary or {}),
            "applied": applied,
        },
        ts=now,
    )


@dataclass(frozen=True)
class SweepResult:
    departed: list[str]
    failed: list[str]


def due_departures(session: Session, now: datetime) -> list[str]:
    return list(
        session.scalars(
            select(Departure.id)
            .where(Departure.state == SCHEDULED, Departure.access_ends_at <= now)
            .order_by(Departure.access_ends_at, Departure.id)
        )
    )


def sweep(
    *,
    read: sessionmaker[Session],
    write: sessionmaker[Session],
    hr: HrSettings,
    now: datetime,
    actor: str = SWEEP_ACTOR,
) -> SweepResult:
    """Apply every due departure, each in its own transaction so one failure does not hold up the rest."""
    with read() as session:
        due = due_departures(session, now)
    departed: list[str] = []
    failed: list[str] = []
    for departure_id in due:
        try:
            with transaction(write) as session:
                username = _depart_if_due(session, departure_id, actor=actor, hr=hr, now=now)
        except Exception:
            log.exception("departure failed", extra={"departure_id": departure_id})
            failed.append(departure_id)
            continue
        if username is not None:
            departed.append(username)
    return SweepResult(departed, failed)


def _depart_if_due(
    session: Session, departure_id: str, *, actor: str, hr: HrSettings, now: datetime
) -> str | None:
    departure = session.get(Departure, departure_id)
    if departure is None:
        return None
    # Lock the person first (the order every HR change uses), then re-check under the lock: a withdrawal or
    # another sweeper may have got there first.
    user = session.scalars(
        select(User)
        .where(User.id == departure.user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    session.refresh(departure)
    if departure.state != SCHEDULED or departure.access_ends_at > now:
        return None
    applied = depart(session=session, user=user, departure=departure, actor=actor, hr=hr, now=now)
    audit_departure(session=session, user=user, departure=departure, applied=applied, actor=actor, now=now)
    return user.username
