"""Open grants that a change of a person's state no longer allows are voided in the same transaction.

A grant is open while it is granted, not collected and not revoked (past `grant_until` it is voided too,
so the record says plainly that it can never be collected); its content
token is bound to it, so voiding the grant also kills any token issued for it. Each voiding is audited as
`access.void` with the rule that no longer allows it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.access.models import AccessRequest
from guard.audit.log import record
from guard.errors import Forbidden
from guard.people.models import User
from guard.policies.access import AccessPolicy, Action, Classification, PersonFacts, Refusal, grant_refusal


def person_facts(user: User) -> PersonFacts:
    return PersonFacts(user.username, user.status, frozenset(user.roles), user.approval_required_reason)


def refusal_now(policy: AccessPolicy, *, user: User, grant: AccessRequest) -> Refusal | None:
    """The rule in force that no longer allows this grant for this person as they are now, or None."""
    return grant_refusal(
        policy,
        person=person_facts(user),
        action=cast(Action, grant.action),
        classification=cast(Classification, grant.classification),
        approved=grant.approvals > 0,
    )


def open_grants(session: Session, *, user_id: str) -> list[AccessRequest]:
    query = select(AccessRequest).where(
        AccessRequest.requester_id == user_id,
        AccessRequest.status == "granted",
        AccessRequest.delivered_at.is_(None),
        AccessRequest.revoked_at.is_(None),
    )
    if session.get_bind().dialect.name != "sqlite":  # SQLite: BEGIN IMMEDIATE already serialises writers
        query = query.with_for_update()
    return list(session.scalars(query.order_by(AccessRequest.created_at, AccessRequest.id)))


def void_grant(
    session: Session, grant: AccessRequest, *, refusal: Refusal, actor: str, now: datetime
) -> None:
    grant.revoked_at = now
    record(
        session=session,
        actor=actor,
        action="access.void",
        target=f"access-request:{grant.id}",
        payload={
            "request_id": grant.id,
            **grant.document_payload(),
            "action": grant.action,
            "rule": refusal.rule,
            "why": refusal.explanation,
        },
        ts=now,
    )


def void_grants(
    *,
    session: Session,
    user: User,
    actor: str,
    now: datetime,
    refusal: Callable[[AccessRequest], Refusal | None],
) -> int:
    """Void every open grant of `user` for which `refusal` names a rule; returns how many."""
    voided = 0
    for grant in open_grants(session, user_id=user.id):
        why = refusal(grant)
        if why is not None:
            void_grant(session, grant, refusal=why, actor=actor, now=now)
            voided += 1
    session.flush()
    return voided


def refuse_if_disallowed(
    session: Session, *, policy: AccessPolicy, user: User, grant: AccessRequest, now: datetime
) -> None:
    """At collection: a grant the rules in force no longer allow is voided (committed) and refused with
    the rule that refuses it."""
    refusal = refusal_now(policy, user=user, grant=grant)
    if refusal is None:
        return
    void_grant(session, grant, refusal=refusal, actor=user.username, now=now)
    raise Forbidden(
        f"{refusal.explanation}; this grant was made under earlier rules and is now void",
        keep_changes=True,
        rule=refusal.rule,
    )
