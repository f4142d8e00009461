"""Roles that see or change everything (admin, security) change only with a second person.

One admin proposes the new set of roles, a different admin confirms it (never the person whose roles
change), and only then is it applied, in the confirming transaction, after checking that the proposal is
still pending, not older than a day, and that the person's roles are still what they were when it was
proposed. An installation with one admin grants on the host (`guard users grant`), audited as such.
Nobody changes their own roles. Other roles (staff, author, approver, …) are changed by one admin.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.bounds import require_reason
from guard.errors import Conflict, Forbidden, InvalidInput, NotFound
from guard.notifications.service import notify
from guard.people.models import RoleChange, User
from guard.people.service import POWERFUL_ROLES, check_roles, get_user, holders_of, security_team
from guard.types import Role

PROPOSAL_LIFETIME = timedelta(days=1)


def needs_second_person(old: list[str], new: list[str]) -> bool:
    return bool((set(old) ^ set(new)) & POWERFUL_ROLES)


def propose(
    *, session: Session, actor_id: str, actor: str, user_id: str, roles: list[str], reason: str, now: datetime
) -> RoleChange:
    user = get_user(session=session, user_id=user_id)
    if user.id == actor_id:
        raise Forbidden("nobody changes their own roles")
    new_roles = check_roles(roles)
    if set(new_roles) == set(user.roles):
        raise InvalidInput("these are already the person's roles")
    change = RoleChange(
        user_id=user.id,
        from_roles=list(user.roles),
        to_roles=new_roles,
        reason=require_reason(reason, missing="say why: a role change needs a reason"),
        proposed_by=actor,
        proposed_at=now,
        status="pending",
    )
    session.add(change)
    session.flush()
    record(
        session=session,
        actor=actor,
        action="user.roles_proposed",
        target=f"user:{user.username}",
        payload={
            "role_change": change.id,
            "from": change.from_roles,
            "to": new_roles,
            "reason": change.reason,
        },
        ts=now,
    )
    others = [a for a in holders_of(session, Role.ADMIN) if a != actor and a != user.username]
    notify(
        session=session,
        recipients=[*others, *security_team(session)],
        kind="role_change",
        subject=f"{actor} proposes new roles for {user.username}: {', '.join(new_roles)}",
        body=f"A second admin must confirm or reject it (role change {change.id}). {change.reason}",
        data={"role_change": change.id, "user": user.username, "to": new_roles, "proposed_by": actor},
        now=now,
    )
    return change


def confirm(*, session: Session, actor_id: str, actor: str, change_id: str, now: datetime) -> RoleChange:
    change = _pending(session, change_id)
    user = get_user(session=session, user_id=change.user_id)
    if actor == change.proposed_by:
        raise Forbidden("a second admin must confirm: the one who proposed a change cannot")
    if actor_id == user.id:
        raise Forbidden("nobody confirms a change to their own roles")
    if now >= change.proposed_at + PROPOSAL_LIFETIME:
        _close(session, change, status="expired", actor=actor, now=now, note="older than a day")
        raise Conflict("this proposal expired (older than a day); propose it again", keep_changes=True)
    if set(user.roles) != set(change.from_roles):
        _close(session, change, status="stale", actor=actor, now=now, note="the roles changed meanwhile")
        raise Conflict(
            "the person's roles changed since this was proposed; propose it again", keep_changes=True
        )
    user.roles, user.updated_at = list(change.to_roles), now
    _close(session, change, status="confirmed", actor=actor, now=now, note=None)
    return change


def reject(*, session: Session, actor: str, change_id: str, note: str, now: datetime) -> RoleChange:
    """Any admin may reject (the proposer too: that withdraws it)."""
    change = _pending(session, change_id)
    _close(
        session,
        change,
        status="rejected",
        actor=actor,
        now=now,
        note=require_reason(note, missing="say why: a rejection needs a note"),
    )
    return change


def grant_on_host(
    *, session: Session, actor: str, user: User, add: list[str], remove: list[str], now: datetime
) -> list[str]:
    """`guard users grant`: on the host, whoever holds Guard's keys may change any role directly."""
    before = list(user.roles)
    after = [r for r in check_roles([*before, *add]) if r not in set(remove)]
    user.roles, user.updated_at = after, now
    for change in session.scalars(
        select(RoleChange).where(RoleChange.user_id == user.id, RoleChange.status == "pending")
    ):
        _close(session, change, status="stale", actor=actor, now=now, note="roles granted on the host")
    record(
        session=session,
        actor=actor,
        action="user.roles_granted",
        target=f"user:{user.username}",
        payload={"from": before, "to": after, "on_host": True},
        ts=now,
    )
    return after


def list_changes(*, session: Session, status: str | None) -> list[RoleChange]:
    query = select(RoleChange).order_by(RoleChange.proposed_at.desc(), RoleChange.id)
    if status is not None:
        query = query.where(RoleChange.status == status)
    return list(session.scalars(query))


def _pending(session: Session, change_id: str) -> RoleChange:
    change = session.scalars(select(RoleChange).where(RoleChange.id == change_id).with_for_update()).first()
    if change is None:
        raise NotFound("no such role change")
    if change.status != "pending":
        raise Conflict(f"this role change is already {change.status}")
    return change


def _close(
    session: Session, change: RoleChange, *, status: str, actor: str, now: datetime, note: str | None
) -> None:
    change.status, change.decided_by, change.decided_at, change.note = status, actor, now, note
    user = get_user(session=session, user_id=change.user_id)
    record(
        session=session,
        actor=actor,
        action=f"user.roles_{status}",
        target=f"user:{user.username}",
        payload={
            "role_change": change.id,
            "from": change.from_roles,
            "to": change.to_roles,
            "proposed_by": change.proposed_by,
            "note": note,
        },
        ts=now,
    )
