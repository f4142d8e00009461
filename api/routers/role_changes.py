"""Admin and security roles change with a second person: propose, confirm, reject (guard.people.roles)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import GuardRoute, NowDep, SessionDep
from api.routers.users import AdminDep, OverseerDep, RoleName
from api.schemas import Strict
from guard.people import roles
from guard.people.models import RoleChange
from guard.people.service import get_user

router = APIRouter(tags=["people"], route_class=GuardRoute)
ChangeStatus = Literal["pending", "confirmed", "rejected", "expired", "stale"]


class RoleChangeIn(Strict):
    user_id: str = Field(min_length=1, max_length=32)
    roles: list[RoleName] = Field(min_length=1, max_length=8)  # the person's whole new set of roles
    reason: str = Field(min_length=1, max_length=500)


class RejectIn(Strict):
    note: str = Field(min_length=1, max_length=500)


class RoleChangeOut(BaseModel):
    id: str
    user_id: str
    username: str
    from_roles: list[str]
    to_roles: list[str]
    reason: str
    proposed_by: str
    proposed_at: datetime
    status: ChangeStatus
    decided_by: str | None
    decided_at: datetime | None
    note: str | None


def change_out(session: Session, change: RoleChange) -> RoleChangeOut:
    return RoleChangeOut(
        id=change.id,
        user_id=change.user_id,
        username=get_user(session=session, user_id=change.user_id).username,
        from_roles=change.from_roles,
        to_roles=change.to_roles,
        reason=change.reason,
        proposed_by=change.proposed_by,
        proposed_at=change.proposed_at,
        status=change.status,
        decided_by=change.decided_by,
        decided_at=change.decided_at,
        note=change.note,
    )


@router.post("/role-changes", status_code=201, response_model=RoleChangeOut)
def propose(body: RoleChangeIn, admin: AdminDep, session: SessionDep, now: NowDep) -> RoleChangeOut:
    change = roles.propose(
        session=session,
        actor_id=admin.user_id,
        actor=admin.username,
        user_id=body.user_id,
        roles=list(body.roles),
        reason=body.reason,
        now=now,
    )
    return change_out(session, change)


@router.get("/role-changes", response_model=list[RoleChangeOut])
def list_changes(
    _overseer: OverseerDep, session: SessionDep, status: Annotated[ChangeStatus | None, Query()] = None
) -> list[RoleChangeOut]:
    return [change_out(session, c) for c in roles.list_changes(session=session, status=status)]


@router.post("/role-changes/{change_id}/confirm", response_model=RoleChangeOut)
def confirm(change_id: str, admin: AdminDep, session: SessionDep, now: NowDep) -> RoleChangeOut:
    change = roles.confirm(
        session=session, actor_id=admin.user_id, actor=admin.username, change_id=change_id, now=now
    )
    return change_out(session, change)


@router.post("/role-changes/{change_id}/reject", response_model=RoleChangeOut)
def reject(
    change_id: str, body: RejectIn, admin: AdminDep, session: SessionDep, now: NowDep
) -> RoleChangeOut:
    change = roles.reject(session=session, actor=admin.username, change_id=change_id, note=body.note, now=now)
    return change_out(session, change)
