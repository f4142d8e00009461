"""People administration (admin role)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from api.deps import GuardRoute, NowDep, PrincipalDep, RuntimeDep, SessionDep, require_roles
from api.schemas import HoldOut, Strict, hold_out
from guard.auth import password_change
from guard.auth.service import Principal
from guard.bounds import check_time
from guard.detection.watches import current_watch
from guard.errors import Forbidden
from guard.people import api_keys, holds, service
from guard.people.holds import active_holds
from guard.people.models import ApiKey, User, UserHold
from guard.types import Role

router = APIRouter(tags=["people"], route_class=GuardRoute)
AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
# Holds are set and lifted by security or an admin; both may read a person's record to do so.
OverseerDep = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.SECURITY))]
HoldKindName = Literal["suspended", "review"]
RoleName = Literal["staff", "author", "custodian", "approver", "security", "hr", "admin", "ingest"]


class UserIn(Strict):
    username: str = Field(min_length=2, max_length=64)
    display_name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    department: str = Field("", max_length=120)
    roles: list[RoleName] = Field(["staff"], max_length=8)
    password: str | None = Field(None, max_length=1024)
    manager: str | None = Field(None, max_length=254)
    employee_id: str | None = Field(None, max_length=64)


class UserPatch(Strict):
    roles: list[RoleName] | None = Field(None, max_length=8)
    status: Literal["active", "suspended"] | None = None
    manager: str | None = Field(None, max_length=254)
    display_name: str | None = Field(None, min_length=1, max_length=200)
    department: str | None = Field(None, max_length=120)
    # Recorded on the hold a status change places or lifts.
    reason: str | None = Field(None, min_length=1, max_length=500)


class HoldIn(Strict):
    kind: HoldKindName
    reason: str = Field(min_length=1, max_length=500)


class HoldLiftIn(Strict):
    reason: str = Field(min_length=1, max_length=500)


class TeamWatchOut(BaseModel):
    reason: str
    alert_id: str
    since: datetime
    until: datetime


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    email: str
    employee_id: str | None
    department: str
    manager: str | None
    roles: list[str]
    # The effective state, kept for existing clients: departed > suspended > notice > active.
    status: str
    lifecycle: str
    holds: list[HoldOut]
    # False for machine accounts made without one (they use API keys); true when an admin's reset
    # requires a new password at the next login.
    password_set: bool
    password_change_required: bool
    # GET /users/{id}: set while a departure wave in the person's team has them judged by the leaver rules.
    watch: TeamWatchOut | None = None


class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=120)
    # Optional: the key stops working by itself at this time (between now and 9999-12-30).
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _bounded(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2027-01-31T00:00:00Z")
        return check_time(value, "expires_at") if value is not None else None


class ApiKeyRevokeIn(Strict):
    reason: str = Field(min_length=1, max_length=500)


class ApiKeyOut(BaseModel):
    """A key as listed: never its secret, which is shown once when it is made."""

    id: str
    name: str
    prefix: str
    state: api_keys.KeyState
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None


class ApiKeyCreated(ApiKeyOut):
    key: str  # the secret: shown this once


def api_key_out(key: ApiKey, now: datetime) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        state=api_keys.key_state(key, now),
        created_at=key.created_at,
        created_by=key.created_by,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
        revoked_by=key.revoked_by,
        revoke_reason=key.revoke_reason,
    )


def user_out(
    user: User, *, session: Session, holds: list[UserHold] | None = None, full: bool = True
) -> UserOut:
    """`holds`: the person's active holds when already loaded (lists load them in one query); `full`:
    whether the reader may see why each hold was set."""
    manager = session.get(User, user.manager_id) if user.manager_id else None
    if holds is None:
        holds = active_holds(session, user_ids=[user.id])[user.id]
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        employee_id=user.employee_id,
        department=user.department,
        manager=manager.username if manager else None,
        roles=list(user.roles),
        status=user.status,
        lifecycle=user.lifecycle,
        holds=[hold_out(hold, full=full) for hold in holds],
        password_set=user.password_hash is not None,
        password_change_required=user.must_change_password,
    )


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(
    body: UserIn, admin: AdminDep, session: SessionDep, runtime: RuntimeDep, now: NowDep
) -> UserOut:
    user = service.create_user(
        session=session,
        actor=admin.username,
        username=body.username,
        display_name=body.display_name,
        email=body.email,
        department=body.department,
        roles=list(body.roles),
        password=body.password,
        manager=body.manager,
        employee_id=body.employee_id,
        passwords=runtime.passwords,
        now=now,
    )
    return user_out(user, session=session)


@router.get("/users", response_model=list[UserOut])
def list_users(
    _admin: AdminDep,
    session: SessionDep,
    status: Annotated[Literal["active", "notice", "departed", "suspended"] | None, Query()] = None,
    role: Annotated[RoleName | None, Query()] = None,
) -> list[UserOut]:
    users = service.list_users(session=session, status=status, role=role)
    held = active_holds(session, user_ids=[u.id for u in users])
    return [user_out(u, session=session, holds=held[u.id]) for u in users]


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: str, _overseer: OverseerDep, session: SessionDep, now: NowDep) -> UserOut:
    found = user_out(service.get_user(session=session, user_id=user_id), session=session)
    watch = current_watch(session, user_id=user_id, now=now)
    if watch is None:
        return found
    out = TeamWatchOut(reason=watch.reason, alert_id=watch.alert_id, since=watch.since, until=watch.until)
    return found.model_copy(update={"watch": out})


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: str, body: UserPatch, admin: AdminDep, session: SessionDep, now: NowDep) -> UserOut:
    user = service.update_user(
        session=session,
        actor=admin.username,
        user_id=user_id,
        now=now,
        roles=list(body.roles) if body.roles is not None else None,
        status=body.status,
        manager=body.manager,
        display_name=body.display_name,
        department=body.department,
        reason=body.reason,
    )
    return user_out(user, session=session)


@router.post("/users/{user_id}/holds", status_code=201, response_model=UserOut)
def place_hold(
    user_id: str, body: HoldIn, overseer: OverseerDep, session: SessionDep, now: NowDep
) -> UserOut:
    user = service.get_user(session=session, user_id=user_id)
    holds.place_hold(
        session=session, user=user, kind=body.kind, actor=overseer.username, reason=body.reason, now=now
    )
    return user_out(user, session=session)


@router.delete("/users/{user_id}/holds/{kind}", response_model=UserOut)
def lift_hold(
    user_id: str,
    kind: HoldKindName,
    body: HoldLiftIn,
    overseer: OverseerDep,
    session: SessionDep,
    now: NowDep,
) -> UserOut:
    """Lift every active hold of `kind`; the person is then what their lifecycle says (on notice stays
    on notice)."""
    user = service.get_user(session=session, user_id=user_id)
    holds.lift_holds(
        session=session, user=user, kind=kind, actor=overseer.username, reason=body.reason, now=now
    )
    return user_out(user, session=session)


@router.post("/users/{user_id}/api-keys", status_code=201, response_model=ApiKeyCreated)
def create_api_key(
    user_id: str, body: ApiKeyIn, admin: AdminDep, session: SessionDep, now: NowDep
) -> ApiKeyCreated:
    key, plaintext = api_keys.create_api_key(
        session=session,
        actor=admin.username,
        user_id=user_id,
        name=body.name,
        expires_at=body.expires_at,
        now=now,
    )
    return ApiKeyCreated(**api_key_out(key, now).model_dump(), key=plaintext)


def _key_keeper(user_id: str, principal: Principal) -> None:
    """Admins and security see and revoke anyone's keys; a person sees and revokes their own."""
    if principal.user_id != user_id and not principal.has_any(Role.ADMIN, Role.SECURITY):
        raise Forbidden("only admins, security and the key's own person may see or revoke its keys")


@router.get("/users/{user_id}/api-keys", response_model=list[ApiKeyOut])
def list_api_keys(user_id: str, principal: PrincipalDep, session: SessionDep, now: NowDep) -> list[ApiKeyOut]:
    _key_keeper(user_id, principal)
    return [api_key_out(key, now) for key in api_keys.list_api_keys(session=session, user_id=user_id)]


@router.delete("/users/{user_id}/api-keys/{key_id}", response_model=ApiKeyOut)
def revoke_api_key(
    user_id: str, key_id: str, body: ApiKeyRevokeIn, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> ApiKeyOut:
    _key_keeper(user_id, principal)
    key = api_keys.revoke_api_key(
        session=session, actor=principal.username, user_id=user_id, key_id=key_id, reason=body.reason, now=now
    )
    return api_key_out(key, now)


class PasswordResetOut(BaseModel):
    temporary_password: str  # shown once; the person must replace it at their next login
    sessions_ended: bool = True


TEMPORARY_PASSWORD_BYTES = 15  # 20 URL-safe characters


@router.post("/users/{user_id}/password-reset", response_model=PasswordResetOut)
def reset_password(
    user_id: str, admin: AdminDep, session: SessionDep, runtime: RuntimeDep, now: NowDep
) -> PasswordResetOut:
    """A temporary password, shown once: every session of the person ends, they must choose a new one at
    their next login, and they and security are notified."""
    temporary = secrets.token_urlsafe(TEMPORARY_PASSWORD_BYTES)
    new_hash = runtime.passwords.hash(temporary)  # before the first query: no lock is held while hashing
    password_change.reset_password(
        session=session, actor=admin.username, user_id=user_id, new_hash=new_hash, now=now
    )
    return PasswordResetOut(temporary_password=temporary)
