"""People: create, find, change, suspend."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.auth.passwords import Passwords
from guard.errors import Conflict, Forbidden, InvalidInput, NotFound
from guard.people import holds
from guard.people.models import User
from guard.types import WORKING_STATUSES, HoldKind, Lifecycle, Role, Status

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Roles that see or change everything: given or taken only with a second person (guard.people.roles).
POWERFUL_ROLES = frozenset({Role.ADMIN.value, Role.SECURITY.value})
# Roles of machine accounts, which use API keys and never log in: only they may be made without a password.
MACHINE_ROLES = frozenset({Role.INGEST.value, Role.HR.value})
ADMIN_SETTABLE_STATUSES = frozenset({Status.ACTIVE, Status.SUSPENDED})


def holders_of(session: Session, role: str) -> list[str]:
    """Usernames of the people holding `role` who can act now (e.g. the recipients of notices). The JSON
    text narrows the rows in the database (an HR file asks once per row); the list itself decides."""
    rows = session.execute(
        select(User.username, User.roles).where(
            User.status.in_(list(WORKING_STATUSES)), cast(User.roles, String).like(f'%"{role}"%')
        )
    )
    return sorted(username for username, roles in rows if role in roles)


def security_team(session: Session) -> list[str]:
    return holders_of(session, Role.SECURITY)


def hash_secret(value: str) -> str:
    """API keys and refresh tokens are random and long, so a fast hash is enough to store them."""
    return hashlib.sha256(value.encode()).hexdigest()


def check_roles(roles: Iterable[str]) -> list[str]:
    result = []
    for role in roles:
        if role not in Role.__members__.values():
            allowed = ", ".join(r.value for r in Role)
            raise InvalidInput(f"unknown role {role!r}; roles are: {allowed}")
        if role not in result:
            result.append(role)
    return result


def get_user(*, session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no person with id {user_id!r}")
    return user


def find_user(*, session: Session, ref: str) -> User:
    """A person named by username, email or employee id."""
    user = session.scalars(
        select(User).where(or_(User.username == ref, User.email == ref.lower(), User.employee_id == ref))
    ).first()
    if user is None:
        raise NotFound(f"no person with username, email or employee id {ref!r}")
    return user


def list_users(*, session: Session, status: str | None = None, role: str | None = None) -> list[User]:
    query = select(User).order_by(User.username)
    if status:
        query = query.where(User.status == status)
    users = list(session.scalars(query))
    return [u for u in users if role in u.roles] if role else users


def create_user(
    *,
    session: Session,
    actor: str,
    username: str,
    display_name: str,
    email: str,
    roles: list[str],
    now: datetime,
    passwords: Passwords,
    department: str = "",
    password: str | None = None,
    manager: str | None = None,
    employee_id: str | None = None,
    on_host: bool = False,
) -> User:
    """`on_host`: the CLI, run by whoever holds Guard's keys, may give any role; through the API the roles
    that see or change everything (admin, security) need a second person (guard.people.roles)."""
    if not USERNAME.match(username):
        raise InvalidInput("username must be 2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    if not EMAIL.match(email):
        raise InvalidInput(f"{email!r} is not an email address")
    roles = check_roles(roles or [Role.STAFF])
    if not on_host and POWERFUL_ROLES & set(roles):
        raise InvalidInput(
            "the admin and security roles need a second person: create the person with other roles, "
            "then propose these with POST /role-changes"
        )
    identities = [User.username == username, User.email == email.lower()]
    if employee_id:
        identities.append(User.employee_id == employee_id)
    if session.scalars(select(User.username).where(or_(*identities))).first() is not None:
        raise Conflict("a person with that username, email or employee id already exists")
    manager_user = find_user(session=session, ref=manager) if manager else None
    if password is None and not set(roles) <= MACHINE_ROLES:
        raise InvalidInput(
            "a person who logs in needs a password; only machine accounts (roles ingest and hr only, "
            "which use API keys) may be made without one"
        )
    if password is not None:
        passwords.check_strength(password, about=[username, display_name, email])
    user = User(
        username=username,
        display_name=display_name,
        email=email.lower(),
        employee_id=employee_id,
        department=department,
        manager_id=manager_user.id if manager_user else None,
        roles=roles,
        lifecycle=Lifecycle.ACTIVE.value,
        status=Status.ACTIVE.value,
        token_version=1,
        password_hash=passwords.hash(password) if password else None,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    record(
        session=session,
        actor=actor,
        action="user.create",
        target=f"user:{username}",
        payload={"roles": roles, "department": department, "manager": manager, "employee_id": employee_id},
        ts=now,
    )
    return user


def _set_status(
    session: Session, user: User, *, status: str, actor: str, reason: str | None, now: datetime
) -> None:
    if status not in ADMIN_SETTABLE_STATUSES:
        raise InvalidInput(
            "status can be set to 'active' or 'suspended' here; notice and departure come from HR"
        )
    if user.lifecycle == Lifecycle.DEPARTED:
        raise Conflict(f"{user.username} has departed; a departed person cannot be reactivated")
    if status == Status.SUSPENDED:
        holds.place_hold(
            session=session,
            user=user,
            kind=HoldKind.SUSPENDED,
            actor=actor,
            reason=reason or f"suspended by {actor}",
            now=now,
        )
        return
    if user.lifecycle == Lifecycle.NOTICE:
        raise Conflict(
            f"{user.username} is on notice; only an HR withdrawal (POST /hr/events with type 'withdrawal') "
            f"ends a notice. To lift a suspension use DELETE /users/{user.id}/holds/suspended"
        )
    holds.lift_holds(
        session=session,
        user=user,
        kind=HoldKind.SUSPENDED,
        actor=actor,
        reason=reason or f"reactivated by {actor}",
        now=now,
    )


def update_user(
    *,
    session: Session,
    actor: str,
    user_id: str,
    now: datetime,
    roles: list[str] | None = None,
    status: str | None = None,
    manager: str | None = None,
    display_name: str | None = None,
    department: str | None = None,
    reason: str | None = None,
) -> User:
    """Change what an admin may change. `status` is a shortcut for the `suspended` hold: 'suspended' places
    one, 'active' lifts it; the lifecycle (notice, departure) is HR's alone."""
    user = get_user(session=session, user_id=user_id)
    changes: dict[str, Any] = {}
    if roles is not None:
        new_roles = check_roles(roles)
        if new_roles != user.roles and user.username == actor:
            raise Forbidden("nobody changes their own roles")
        if (set(new_roles) ^ set(user.roles)) & POWERFUL_ROLES:
            raise Conflict(
                "the admin and security roles change only with a second person: propose the change with "
                "POST /role-changes and have another admin confirm it"
            )
        if new_roles != user.roles:
            changes["roles"] = {"from": user.roles, "to": new_roles}
            user.roles = new_roles
    if status is not None and status != user.status:
        _set_status(session, user, status=status, actor=actor, reason=reason, now=now)
    if manager is not None:
        manager_user = find_user(session=session, ref=manager)
        if manager_user.id == user.id:
            raise InvalidInput("a person cannot be their own manager")
        if manager_user.id != user.manager_id:
            changes["manager"] = {"to": manager_user.username}
            user.manager_id = manager_user.id
    if display_name is not None and display_name != user.display_name:
        changes["display_name"] = {"from": user.display_name, "to": display_name}
        user.display_name = display_name
    if department is not None and department != user.department:
        changes["department"] = {"from": user.department, "to": department}
        user.department = department
    if changes:
        user.updated_at = now
        session.flush()
        record(
            session=session,
            actor=actor,
            action="user.update",
            target=f"user:{user.username}",
            payload=changes,
            ts=now,
        )
    return user
