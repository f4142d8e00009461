"""Customers: register, list, change owner. Who may do what is decided by the caller's route.

`transfer_portfolio` is what a handover uses: every customer of one person passes to another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.customers.models import Customer
from guard.errors import Conflict, InvalidInput, NotFound
from guard.paging import Keyset, Page, PageRequest, paginate
from guard.people.holdings import pass_on
from guard.people.models import User
from guard.people.service import find_user
from guard.types import WORKING_STATUSES


def _working_owner(session: Session, ref: str) -> User:
    owner = find_user(session=session, ref=ref)
    if owner.status not in WORKING_STATUSES:
        raise InvalidInput(f"{owner.username} is {owner.status}; a customer needs a working owner")
    return owner


def get_customer(*, session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer with id {customer_id!r}")
    return customer


def create_customer(
    *, session: Session, actor: str, external_id: str, name: str, owner: str, now: datetime
) -> Customer:
    external_id, name = external_id.strip(), name.strip()
    if not external_id or not name:
        raise InvalidInput("a customer needs an external_id and a name")
    if session.scalar(select(Customer.id).where(Customer.external_id == external_id)) is not None:
        raise Conflict(f"a customer with external_id {external_id!r} already exists")
    owner_user = _working_owner(session, owner)
    customer = Customer(
        external_id=external_id, name=name, owner_id=owner_user.id, created_at=now, updated_at=now
    )
    session.add(customer)
    session.flush()
    record(
        session=session,
        actor=actor,
        action="customer.create",
        target=f"customer:{customer.id}",
        payload={"customer_id": customer.id, "external_id": external_id, "owner": owner_user.username},
        ts=now,
    )
    return customer


def list_customers(*, session: Session, page: PageRequest, owner_id: str | None = None) -> Page[Any]:
    """Rows of (customer, owner's username), by name; keyset pages on (name, id)."""
    query = select(Customer, User.username).join(User, User.id == Customer.owner_id)
    if owner_id is not None:
        query = query.where(Customer.owner_id == owner_id)
    return paginate(
        session=session,
        query=query,
        keyset=Keyset([Customer.name, Customer.id]),
        key_of=lambda row: (row[0].name, row[0].id),
        request=page,
        scope="customers",
        filters={"owner_id": owner_id},
    )


def update_customer(
    *,
    session: Session,
    actor: str,
    customer_id: str,
    now: datetime,
    name: str | None = None,
    owner: str | None = None,
) -> Customer:
    customer = get_customer(session=session, customer_id=customer_id)
    changes: dict[str, object] = {}
    if name is not None and name.strip() and name.strip() != customer.name:
        changes["name"] = {"from": customer.name, "to": name.strip()}
        customer.name = name.strip()
    if owner is not None:
        new_owner = _working_owner(session, owner)
        if new_owner.id != customer.owner_id:
            previous = session.get(User, customer.owner_id)
            changes["owner"] = {"from": previous.username if previous else None, "to": new_owner.username}
            customer.owner_id = new_owner.id
    if changes:
        customer.updated_at = now
        session.flush()
        record(
            session=session,
            actor=actor,
            action="customer.update",
            target=f"customer:{customer.id}",
            payload={"customer_id": customer.id, **changes},
            ts=now,
        )
    return customer


def transfer_portfolio(
    *, session: Session, actor: str, from_user_id: str, to_user_id: str, now: datetime
) -> list[str]:
    """Every customer owned by one person passes to another; returns the customer ids moved."""
    return pass_on(
        session=session,
        holder=Customer.owner_id,
        from_user_id=from_user_id,
        to_user_id=to_user_id,
        actor=actor,
        action="customer.transfer",
        moved_key="customer_ids",
        now=now,
        also={"updated_at": now},
    )
