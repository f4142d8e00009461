"""People administration (admin role)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import GuardRoute, NowDep, RuntimeDep, SessionDep, require_roles
from api.schemas import Strict
from guard.auth.service import Principal
from guard.people import service
from guard.people.models import User
from guard.types import Role

router = APIRouter(tags=["people"], route_class=GuardRoute)
AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
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


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    email: str
    employee_id: str | None
    department: str
    manager: str | None
    roles: list[str]
    status: str


class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=120)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    key: str


def user_out(user: User, *, session: Session) -> UserOut:
    manager = session.get(User, user.manager_id) if user.manager_id else None
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
    return [
        user_out(u, session=session) for u in service.list_users(session=session, status=status, role=role)
    ]


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: str, _admin: AdminDep, session: SessionDep) -> UserOut:
    return user_out(service.get_user(session=session, user_id=user_id), session=session)


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
    )
    return user_out(user, session=session)


@router.post("/users/{user_id}/api-keys", status_code=201, response_model=ApiKeyOut)
def create_api_key(
    user_id: str, body: ApiKeyIn, admin: AdminDep, session: SessionDep, now: NowDep
) -> ApiKeyOut:
    key, plaintext = service.create_api_key(
        session=session, actor=admin.username, user_id=user_id, name=body.name, now=now
    )
    return ApiKeyOut(id=key.id, name=key.name, prefix=key.prefix, key=plaintext)
