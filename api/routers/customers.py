"""Customers. Admins and custodians register and reassign them; a person's portfolio is what they own.

Admins, security, HR, custodians and approvers may list every customer; anyone else sees their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import GuardRoute, NowDep, PrincipalDep, RuntimeDep, SessionDep, require_roles
from api.paging import PAGED, CursorQuery, LimitQuery, page_request, send_page
from api.schemas import Strict
from guard.auth.service import Principal
from guard.customers import service
from guard.customers.models import Customer
from guard.errors import Forbidden, NotFound
from guard.people.service import find_user, get_user
from guard.types import Role

router = APIRouter(tags=["customers"], route_class=GuardRoute)
ManagerDep = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.CUSTODIAN))]
OVERSEERS = (Role.ADMIN, Role.SECURITY, Role.HR, Role.CUSTODIAN, Role.APPROVER)


class CustomerIn(Strict):
    external_id: str = Field(min_length=1, max_length=120)
    name: str = Field(min_length=1, max_length=200)
    owner: str = Field(min_length=1, max_length=254, description="username, email or employee id")


class CustomerPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    owner: str | None = Field(None, min_length=1, max_length=254)


class CustomerOut(BaseModel):
    id: str
    external_id: str
    name: str
    owner: str
    created_at: datetime


def _out(customer: Customer, owner: str) -> CustomerOut:
    return CustomerOut(
        id=customer.id,
        external_id=customer.external_id,
        name=customer.name,
        owner=owner,
        created_at=customer.created_at,
    )


@router.post("/customers", status_code=201, response_model=CustomerOut)
def create_customer(body: CustomerIn, actor: ManagerDep, session: SessionDep, now: NowDep) -> CustomerOut:
    customer = service.create_customer(
        session=session,
        actor=actor.username,
        external_id=body.external_id,
        name=body.name,
        owner=body.owner,
        now=now,
    )
    return _out(customer, get_user(session=session, user_id=customer.owner_id).username)


@router.get("/customers", response_model=list[CustomerOut], responses=PAGED)
def list_customers(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    request: Request,
    response: Response,
    owner: Annotated[str | None, Query(max_length=254)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 500,
) -> list[CustomerOut]:
    """Customers by name (one's own unless an overseer); pages with the X-Next-Cursor header."""
    owner_id = find_user(session=session, ref=owner).id if owner else None
    if not principal.has_any(*OVERSEERS):
        if owner_id not in (None, principal.user_id):
            raise Forbidden("you may list only your own customers")
        owner_id = principal.user_id
    page = service.list_customers(
        session=session, page=page_request(runtime.keyring.master_key, cursor, limit), owner_id=owner_id
    )
    send_page(request, response, page)
    return [_out(c, name) for c, name in page.items]


@router.get("/customers/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: str, principal: PrincipalDep, session: SessionDep) -> CustomerOut:
    customer = service.get_customer(session=session, customer_id=customer_id)
    if customer.owner_id != principal.user_id and not principal.has_any(*OVERSEERS):
        raise NotFound(f"no customer with id {customer_id!r} in your portfolio")
    return _out(customer, get_user(session=session, user_id=customer.owner_id).username)


@router.patch("/customers/{customer_id}", response_model=CustomerOut)
def update_customer(
    customer_id: str, body: CustomerPatch, actor: ManagerDep, session: SessionDep, now: NowDep
) -> CustomerOut:
    customer = service.update_customer(
        session=session,
        actor=actor.username,
        customer_id=customer_id,
        now=now,
        name=body.name,
        owner=body.owner,
    )
    return _out(customer, get_user(session=session, user_id=customer.owner_id).username)
