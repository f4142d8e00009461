"""The handover checklist: a leaver's customers and custody documents, acknowledged one by one by the
person taking them over. Closed at departure with what was and was not acknowledged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.auth.service import Principal
from guard.errors import Conflict, Forbidden, NotFound
from guard.hr.models import Handover, HandoverItem
from guard.hr.portfolio import holdings, username_of
from guard.people.models import User
from guard.types import Role

OPEN, CLOSED, CANCELLED = "open", "closed", "cancelled"
# Besides the person taking over: who may acknowledge on their behalf, and who may read a checklist.
ACK_ROLES = (Role.ADMIN, Role.HR)
READ_ROLES = (Role.ADMIN, Role.HR, Role.SECURITY)


@dataclass(frozen=True)
class ItemView:
    id: str
    kind: str
    ref_id: str
    label: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    note: str | None


@dataclass(frozen=True)
class HandoverView:
    id: str
    departure_id: str
    leaver: str
    recipient: str | None
    status: str
    opened_at: datetime
    closed_at: datetime | None
    items: list[ItemView]

    @property
    def acknowledged(self) -> int:
        return sum(1 for item in self.items if item.acknowledged_at is not None)

    def summary(self) -> dict[str, object]:
        return {
            "id": self.id,
            "status": self.status,
            "recipient": self.recipient,
            "items": len(self.items),
            "acknowledged": self.acknowledged,
            "unacknowledged": [
                {"kind": i.kind, "id": i.ref_id, "label": i.label}
                for i in self.items
                if i.acknowledged_at is None
            ],
        }


def open_handover(
    *, session: Session, departure_id: str, leaver: User, recipient_id: str | None, now: datetime
) -> Handover:
    handover = Handover(
        departure_id=departure_id,
        leaver_id=leaver.id,
        recipient_id=recipient_id,
        status=OPEN,
        opened_at=now,
    )
    session.add(handover)
    session.flush()
    session.add_all(
        HandoverItem(handover_id=handover.id, kind=h.kind, ref_id=h.ref_id, label=h.label[:300])
        for h in holdings(session, leaver.id)
    )
    session.flush()
    return handover


def handover_for(session: Session, departure_id: str) -> Handover | None:
    return session.scalars(
        select(Handover).where(Handover.departure_id == departure_id).order_by(Handover.opened_at.desc())
    ).first()


def add_new_holdings(session: Session, handover: Handover) -> None:
    """Customers or custody documents the leaver gained since the checklist was opened join it."""
    listed = {
        (kind, ref)
        for kind, ref in session.execute(
            select(HandoverItem.kind, HandoverItem.ref_id).where(HandoverItem.handover_id == handover.id)
        )
    }
    session.add_all(
        HandoverItem(handover_id=handover.id, kind=h.kind, ref_id=h.ref_id, label=h.label[:300])
        for h in holdings(session, handover.leaver_id)
        if (h.kind, h.ref_id) not in listed
    )
    session.flush()


def finish(session: Session, handover: Handover, *, status: str, now: datetime) -> None:
    if handover.status == OPEN:
        handover.status = status
        handover.closed_at = now
        session.flush()


def view(session: Session, handover: Handover) -> HandoverView:
    items = session.scalars(
        select(HandoverItem)
        .where(HandoverItem.handover_id == handover.id)
        .order_by(HandoverItem.kind, HandoverItem.label, HandoverItem.id)
    )
    return HandoverView(
        id=handover.id,
        departure_id=handover.departure_id,
        leaver=username_of(session, handover.leaver_id) or handover.leaver_id,
        recipient=username_of(session, handover.recipient_id),
        status=handover.status,
        opened_at=handover.opened_at,
        closed_at=handover.closed_at,
        items=[
            ItemView(i.id, i.kind, i.ref_id, i.label, i.acknowledged_at, i.acknowledged_by, i.note)
            for i in items
        ],
    )


def _get(session: Session, handover_id: str, *, for_update: bool = False) -> Handover:
    query = select(Handover).where(Handover.id == handover_id)
    handover = session.scalars(query.with_for_update() if for_update else query).first()
    if handover is None:
        raise NotFound(f"no handover {handover_id!r}")
    return handover


def _may_read(session: Session, handover: Handover, principal: Principal) -> bool:
    if principal.has_any(*READ_ROLES) or principal.user_id in (handover.recipient_id, handover.leaver_id):
        return True
    leaver = session.get(User, handover.leaver_id)
    return leaver is not None and leaver.manager_id == principal.user_id


def get_handover(*, session: Session, principal: Principal, handover_id: str) -> HandoverView:
    handover = _get(session, handover_id)
    if not _may_read(session, handover, principal):
        raise Forbidden(
            "only the person taking over, the leaver, their manager, HR, security or an admin "
            "may read this handover"
        )
    return view(session, handover)


def list_handovers(
    *, session: Session, principal: Principal, status: str | None = None
) -> list[HandoverView]:
    """The caller's own handovers to acknowledge; every handover for HR, security and admins."""
    query = select(Handover).order_by(Handover.opened_at.desc(), Handover.id)
    if not principal.has_any(*READ_ROLES):
        query = query.where(Handover.recipient_id == principal.user_id)
    if status is not None:
        query = query.where(Handover.status == status)
    return [view(session, h) for h in session.scalars(query.limit(500))]


def acknowledge_item(
    *, session: Session, principal: Principal, handover_id: str, item_id: str, note: str | None, now: datetime
) -> HandoverView:
    handover = _get(session, handover_id, for_update=True)
    if principal.user_id != handover.recipient_id and not principal.has_any(*ACK_ROLES):
        raise Forbidden("only the person taking over (or HR or an admin) may acknowledge handover items")
    item = session.scalars(
        select(HandoverItem).where(HandoverItem.id == item_id, HandoverItem.handover_id == handover.id)
    ).first()
    if item is None:
        raise NotFound(f"handover {handover_id!r} has no item {item_id!r}")
    if handover.status != OPEN:
        raise Conflict(f"this handover is {handover.status}; its items can no longer be acknowledged")
    if item.acknowledged_at is None:  # acknowledging twice changes nothing
        item.acknowledged_at = now
        item.acknowledged_by = principal.username
        item.note = note
        session.flush()
        record(
            session=session,
            actor=principal.username,
            action="hr.handover_ack",
            target=f"handover:{handover.id}",
            payload={
                "handover_id": handover.id,
                "item_id": item.id,
                "kind": item.kind,
                f"{item.kind}_id": item.ref_id,
                "leaver": username_of(session, handover.leaver_id),
                "note": note,
            },
            ts=now,
        )
    return view(session, handover)
