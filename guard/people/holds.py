"""A person's lifecycle and the holds stacked on top of it.

The lifecycle (`active -> notice -> departed`) is moved only by HR events and the departure sweep; holds
(`suspended`, `review`) are placed by admins, security or a detection response and lifted with a reason.
`users.status` and `users.approval_required_reason` are derived from both by `refresh_state`, so every
check keeps reading one column, and lifting a hold restores exactly what the lifecycle says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.access.models import AccessRequest
from guard.access.standing import void_grants
from guard.audit.log import record
from guard.bounds import require_reason
from guard.errors import Conflict, InvalidInput, NotFound
from guard.people.models import User, UserHold
from guard.people.sessions import revoke_sessions
from guard.policies.access import Refusal
from guard.types import HoldKind, Lifecycle, Status

REASON_LIMIT = 500
SETTABLE_BY = "security or admin"


def active_holds(session: Session, *, user_ids: list[str]) -> dict[str, list[UserHold]]:
    """The active holds of each person, oldest first."""
    found: dict[str, list[UserHold]] = {user_id: [] for user_id in user_ids}
    if not user_ids:
        return found
    query = (
        select(UserHold)
        .where(UserHold.user_id.in_(user_ids), UserHold.lifted_at.is_(None))
        .order_by(UserHold.set_at, UserHold.id)
    )
    for hold in session.scalars(query):
        found[hold.user_id].append(hold)
    return found


def refresh_state(session: Session, user: User) -> None:
    """Derive the effective status and the approval requirement from the lifecycle and the active holds."""
    holds = active_holds(session, user_ids=[user.id])[user.id]
    kinds = {hold.kind for hold in holds}
    if user.lifecycle == Lifecycle.DEPARTED:
        user.status = Status.DEPARTED.value
    elif HoldKind.SUSPENDED in kinds:
        user.status = Status.SUSPENDED.value
    else:
        user.status = user.lifecycle
    reviews = [hold for hold in holds if hold.kind == HoldKind.REVIEW]
    user.approval_required_reason = reviews[-1].reason if reviews else None


def set_lifecycle(session: Session, user: User, lifecycle: Lifecycle, *, now: datetime) -> None:
    user.lifecycle = lifecycle.value
    user.updated_at = now
    refresh_state(session, user)


def _reason(reason: str) -> str:
    return require_reason(
        reason, missing="say why: a hold is placed and lifted with a reason", limit=REASON_LIMIT
    )


def _kind(kind: str) -> HoldKind:
    if kind not in HoldKind.__members__.values():
        raise InvalidInput(f"hold kind must be one of: {', '.join(k.value for k in HoldKind)}")
    return HoldKind(kind)


def _refusal_under(kind: HoldKind) -> Callable[[AccessRequest], Refusal | None]:
    """What a hold of `kind` no longer allows: nothing at all when suspended; under review, any grant that
    no approver signed off."""
    if kind == HoldKind.SUSPENDED:
        return lambda _grant: Refusal("suspended", "the person is suspended")
    review = Refusal("review_required", "the person's requests now need an approver's sign-off")
    return lambda grant: None if grant.approvals > 0 else review


def place_hold(
    *,
    session: Session,
    user: User,
    kind: str,
    actor: str,
    reason: str,
    now: datetime,
    alert_id: str | None = None,
) -> UserHold:
    """Put a hold on the person and void the open grants it no longer allows, in this transaction. A
    `suspended` hold also revokes every token the person holds."""
    hold_kind, why = _kind(kind), _reason(reason)
    if user.lifecycle == Lifecycle.DEPARTED:
        raise Conflict(f"{user.username} has departed; there is nothing left to hold")
    hold = UserHold(
        user_id=user.id, kind=hold_kind.value, reason=why, set_by=actor, set_at=now, alert_id=alert_id
    )
    session.add(hold)
    session.flush()
    refresh_state(session, user)
    user.updated_at = now
    if hold_kind == HoldKind.SUSPENDED:
        revoke_sessions(session=session, user=user, now=now)
    record(
        session=session,
        actor=actor,
        action="user.hold",
        target=f"user:{user.username}",
        payload={
            "hold_id": hold.id,
            "kind": hold.kind,
            "reason": why,
            "alert_id": alert_id,
            "lifecycle": user.lifecycle,
            "status": user.status,
        },
        ts=now,
    )
    void_grants(session=session, user=user, actor=actor, now=now, refusal=_refusal_under(hold_kind))
    session.flush()
    return hold


def lift_holds(
    *,
    session: Session,
    user: User,
    kind: str,
    actor: str,
    reason: str,
    now: datetime,
    alert_id: str | None = None,
) -> list[UserHold]:
    """Lift the person's active holds of `kind` (only those `alert_id` set, when given); the lifecycle is
    untouched, so the person is exactly what HR says they are."""
    hold_kind, why = _kind(kind), _reason(reason)
    holds = [
        hold
        for hold in active_holds(session, user_ids=[user.id])[user.id]
        if hold.kind == hold_kind and (alert_id is None or hold.alert_id == alert_id)
    ]
    if not holds:
        raise NotFound(f"{user.username} has no active {hold_kind.value} hold")
    for hold in holds:
        hold.lifted_by, hold.lifted_at, hold.lift_reason = actor, now, why
    session.flush()
    refresh_state(session, user)
    user.updated_at = now
    record(
        session=session,
        actor=actor,
        action="user.hold_lift",
        target=f"user:{user.username}",
        payload={
            "hold_ids": [hold.id for hold in holds],
            "kind": hold_kind.value,
            "reason": why,
            "alert_id": alert_id,
            "lifecycle": user.lifecycle,
            "status": user.status,
        },
        ts=now,
    )
    session.flush()
    return holds


def holds_set_by_alert(session: Session, *, alert_id: str, active_only: bool = True) -> list[UserHold]:
    query = select(UserHold).where(UserHold.alert_id == alert_id)
    if active_only:
        query = query.where(UserHold.lifted_at.is_(None))
    return list(session.scalars(query.order_by(UserHold.set_at, UserHold.id)))


def get_hold_owner(session: Session, hold: UserHold) -> User:
    user = session.get(User, hold.user_id)
    if user is None:  # foreign key
        raise NotFound(f"no person with id {hold.user_id!r}")
    return user
