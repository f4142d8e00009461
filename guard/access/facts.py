"""Everything a decision reads, in one query.

The statement joins the asking person, the documents, their customers' owners, the person's acceptance
of the agreement in force and their quota counters for the candidate periods. It is built and compiled
once for each number of documents and periods, and runs on the driver's cursor (guard.prepared): on the
hot path this is several times cheaper than SQLAlchemy's per-execution machinery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import cast

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from guard.access.models import AccessCounter
from guard.agreements.models import AgreementAcceptance
from guard.auth.service import NOT_ACTIVE
from guard.customers.models import Customer
from guard.documents.models import Document
from guard.errors import NotFound, Unauthenticated
from guard.people.models import User
from guard.policies.access import (
    LIFETIME,
    AccessPolicy,
    Action,
    Classification,
    DocumentFacts,
    Limit,
    PersonFacts,
    limit_for,
    period_key,
)
from guard.prepared import PreparedStatement
from guard.types import WORKING_STATUSES


@lru_cache(maxsize=64)
def _facts(documents: int, periods: int) -> PreparedStatement:
    """The facts statement for this many documents and candidate periods, built once for each count."""
    statement = (
        select(
            Document.id,
            Document.title,
            Document.classification,
            Document.customer_id,
            Document.author_id,
            Document.custodian_id,
            Document.honeytoken,
            Customer.owner_id,
            AgreementAcceptance.id,
            AccessCounter.period,
            AccessCounter.used,
            User.username,
            User.status,
            User.roles,
            User.approval_required_reason,
            User.token_version,
            Document.cover_author_id,
            Document.cover_custodian_id,
            User.department,
        )
        .join(Customer, Customer.id == Document.customer_id)
        .join(User, User.id == bindparam("user_id"))
        .outerjoin(
            AgreementAcceptance,
            and_(AgreementAcceptance.user_id == User.id, AgreementAcceptance.version == bindparam("version")),
        )
        .outerjoin(
            AccessCounter,
            and_(
                AccessCounter.document_id == Document.id,
                AccessCounter.user_id == User.id,
                AccessCounter.action == bindparam("action"),
                AccessCounter.period.in_([bindparam(f"period_{n}") for n in range(periods)]),
            ),
        )
        .where(Document.id.in_([bindparam(f"document_{n}") for n in range(documents)]))
    )
    return PreparedStatement(statement, what="reading a decision's facts")


@dataclass(frozen=True)
class Requester:
    id: str
    username: str
    status: str
    roles: frozenset[str]
    review_reason: str | None
    token_version: int
    department: str  # recorded with each decision: detection compares a person with their peers

    @property
    def facts(self) -> PersonFacts:
        return PersonFacts(self.username, self.status, self.roles, self.review_reason)


@dataclass(frozen=True)
class DocFacts:
    facts: DocumentFacts
    customer_id: str
    honeytoken: bool
    limit: Limit
    period: str
    used: int  # looks used in `period` when the query ran


def load(
    session: Session,
    *,
    user_id: str,
    document_ids: Sequence[str],
    action: Action,
    policy: AccessPolicy,
    agreement_version: str,
    now: datetime,
) -> tuple[Requester, list[DocFacts], bool]:
    """The person, the documents (in the order asked) and whether the agreement in force is accepted."""
    periods = sorted({LIFETIME, *(period_key(w, now) for w in policy.windows())})
    params = {"user_id": user_id, "version": agreement_version, "action": action}
    params.update((f"period_{n}", period) for n, period in enumerate(periods))
    params.update((f"document_{n}", doc_id) for n, doc_id in enumerate(document_ids))
    rows = _facts(len(document_ids), len(periods)).rows(session.connection(), params)
    if not rows:
        raise NotFound(f"no document with id {document_ids[0]!r}")
    first = rows[0]
    person = Requester(
        user_id, first[11], first[12], frozenset(first[13] or ()), first[14], first[15], first[18] or ""
    )
    if person.status not in WORKING_STATUSES:  # changed since the credentials were checked
        raise Unauthenticated(NOT_ACTIVE)
    accepted = first[8] is not None
    used = {(r[0], r[9]): r[10] for r in rows if r[9] is not None}
    found: dict[str, DocFacts] = {}
    for row in rows:
        if row[0] in found:
            continue
        classification = cast(Classification, row[2])
        limit = limit_for(policy, status=person.status, action=action, classification=classification)
        period = limit.period(now)
        facts = DocumentFacts(
            id=row[0],
            title=row[1],
            classification=classification,
            in_portfolio=row[7] == user_id,
            # A honeytoken's cover persons keep it as far as the policy goes: they see themselves named.
            keeper=user_id in (row[4], row[5], row[16], row[17]),
        )
        found[row[0]] = DocFacts(facts, row[3], bool(row[6]), limit, period, used.get((row[0], period), 0))
    missing = [doc_id for doc_id in document_ids if doc_id not in found]
    if missing:
        raise NotFound(f"no document with id {missing[0]!r}")
    return person, [found[doc_id] for doc_id in document_ids], accepted
