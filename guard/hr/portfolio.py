"""What a leaver holds in the broker, and who must be told about their leaving."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from guard.customers.models import Customer
from guard.documents.models import Document
from guard.documents.service import shown_custodian
from guard.people.models import ApiKey, User
from guard.types import Status


@dataclass(frozen=True)
class Holding:
    kind: str  # customer | document
    ref_id: str
    label: str


def holdings(session: Session, user_id: str) -> list[Holding]:
    """The leaver's customers, then the documents in their custody, each by name."""
    customers = session.execute(
        select(Customer.id, Customer.name).where(Customer.owner_id == user_id).order_by(Customer.name)
    )
    documents = session.execute(
        select(Document.id, Document.title)
        .where(shown_custodian() == user_id)  # a honeytoken is listed under its cover custodian
        .order_by(Document.title)
    )
    return [Holding("customer", cid, name) for cid, name in customers] + [
        Holding("document", did, title) for did, title in documents
    ]


def custodians_of_customers(session: Session, user_id: str) -> list[str]:
    """Keepers of the documents of the leaver's customers (other than the leaver): told not to hand the
    leaver sensitive material."""
    rows = session.scalars(
        select(User.username)
        .join(Document, shown_custodian() == User.id)
        .join(Customer, Customer.id == Document.customer_id)
        .where(Customer.owner_id == user_id, User.id != user_id)
        .distinct()
    )
    return sorted(rows)


def username_of(session: Session, user_id: str | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.username if user else None


def is_available(user: User | None, now: datetime) -> bool:
    """Can take customers over: active (not on notice, suspended or departed) and not past an end date."""
    return (
        user is not None
        and user.status == Status.ACTIVE
        and (user.access_ends_at is None or now < user.access_ends_at)
    )


def revoke_api_keys(session: Session, user_id: str, now: datetime) -> int:
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
