"""In-line decisions on access requests and bulk exports.

One request is one transaction: the facts are read in one query, the pure policy decides, a grant counts
its look with an atomic conditional upsert (guard.access.counters), and the request row and its audit
entry are written. The audit entry is chained at commit; if it cannot be written the commit fails and
nothing is granted (fail closed). A request that loses the race for the last look is decided again with
the quota spent, so the answer always matches what was counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import insert
from sqlalchemy.orm import Session

from guard.access import counters, facts
from guard.access.facts import DocFacts, Requester
from guard.access.models import AccessRequest
from guard.access.tokens import ContentTokenCodec, IssuedToken
from guard.audit.log import record
from guard.auth.service import ClientInfo
from guard.db import new_id, plain_instance
from guard.errors import InvalidInput
from guard.policies.access import (
    CLASSIFICATIONS,
    AccessPolicy,
    Action,
    Decision,
    check_reason,
    decide,
    decide_export,
)
from guard.prepared import PreparedStatement

_INSERT_REQUEST = PreparedStatement(insert(AccessRequest), what="recording an access request")

SINGLE_ACTIONS = ("view", "download")


@dataclass(frozen=True)
class BrokerTerms:
    """What a decision needs besides the database: the policy in force and the configured times."""

    policy: AccessPolicy
    agreement_version: str
    tokens: ContentTokenCodec
    grant_valid: timedelta
    pending_expiry: timedelta
    export_approval_above: int
    export_max_documents: int


@dataclass(frozen=True)
class AccessOutcome:
    request: AccessRequest
    decision: Decision
    token: IssuedToken | None

    @property
    def expires_at(self) -> datetime | None:
        if self.token is not None:
            return self.token.expires_at
        return self.request.pending_until


def _new_request(
    *,
    person: Requester,
    action: str,
    docs: list[DocFacts],
    decision: Decision,
    reason: str,
    place: str | None,
    client: ClientInfo,
    terms: BrokerTerms,
    now: datetime,
) -> AccessRequest:
    export = action == "export"
    highest = max((CLASSIFICATIONS.index(d.facts.classification) for d in docs), default=0)
    return plain_instance(
        AccessRequest,
        id=new_id(),
        requester_id=person.id,
        action=action,
        document_id=None if export else docs[0].facts.id,
        document_ids=[d.facts.id for d in docs] if export else None,
        customer_ids=sorted({d.customer_id for d in docs}) if export else None,
        customer_id=None if export else docs[0].customer_id,
        classification=CLASSIFICATIONS[highest],
        honeytoken=any(d.honeytoken for d in docs),
        in_portfolio=all(d.facts.in_portfolio for d in docs),
        person_status=person.status,
        status=decision.outcome,
        rule=decision.rule,
        explanation=decision.explanation[:500],
        views_left=decision.views_left,
        reason=reason,
        place=place,
        client=(client.address or "")[:64] or None,
        user_agent=(client.user_agent or "")[:300] or None,
        created_at=now,
        decided_at=now if decision.outcome != "pending" else None,
        pending_until=now + terms.pending_expiry if decision.outcome == "pending" else None,
        approvals_required=decision.approvals_required,
        approvals=0,
        grant_until=now + terms.grant_valid if decision.granted else None,
        token_jti=None,
        token_expires_at=None,
        delivered_at=None,
        delivered_bytes=None,
        revoked_at=None,
    )


def issue_token(
    request: AccessRequest, *, token_version: int, tokens: ContentTokenCodec, now: datetime
) -> IssuedToken:
    """A fresh content token for a granted request; any earlier token for it stops working."""
    issued = tokens.issue(
        grant_id=request.id, user_id=request.requester_id, token_version=token_version, now=now
    )
    request.token_jti = issued.jti
    request.token_expires_at = issued.expires_at
    return issued


def decision_payload(request: AccessRequest, *, count: int, department: str) -> dict[str, Any]:
    return {
        "request_id": request.id,
        "decision": request.status,
        "rule": request.rule,
        **request.document_payload(),
        "classification": request.classification,
        "honeytoken": request.honeytoken,
        "status": request.person_status,
        "in_portfolio": request.in_portfolio,
        "department": department,
        "count": count,
        "views_left": request.views_left,
        "reason": request.reason,
        "place": request.place,
        "client": request.client,
        "user_agent": request.user_agent,
    }


def _finish(
    session: Session,
    *,
    request: AccessRequest,
    decision: Decision,
    person: Requester,
    count: int,
    terms: BrokerTerms,
    now: datetime,
) -> AccessOutcome:
    """Insert the request row (a prepared insert: far cheaper than an ORM flush) and stage its audit entry."""
    token = None
    if decision.granted:
        token = issue_token(request, token_version=person.token_version, tokens=terms.tokens, now=now)
    _INSERT_REQUEST.rows(session.connection(), vars(request))
    record(
        session=session,
        actor=person.username,
        action=f"access.{request.action}",
        target=request.target(),
        payload=decision_payload(request, count=count, department=person.department),
        ts=now,
    )
    return AccessOutcome(request, decision, token)


def _clean_place(place: str | None) -> str | None:
    text = " ".join((place or "").split())
    if len(text) > 200:
        raise InvalidInput("the place label must be at most 200 characters")
    return text or None


def request_access(
    *,
    session: Session,
    terms: BrokerTerms,
    user_id: str,
    document_id: str,
    action: str,
    reason: str,
    place: str | None,
    client: ClientInfo,
    now: datetime,
) -> AccessOutcome:
    """Decide a request to view or download one document; denied and pending answers are recorded too."""
    if action not in SINGLE_ACTIONS:
        raise InvalidInput("action must be 'view' or 'download' (use POST /exports for several documents)")
    act = cast(Action, action)
    policy = terms.policy
    reason, place = check_reason(policy, reason), _clean_place(place)
    person, [doc], accepted = facts.load(
        session,
        user_id=user_id,
        document_ids=[document_id],
        action=act,
        policy=policy,
        agreement_version=terms.agreement_version,
        now=now,
    )

    def _decide(used: int) -> Decision:
        return decide(
            policy,
            person=person.facts,
            document=doc.facts,
            action=act,
            used=used,
            agreement_accepted=accepted,
        )

    decision = _decide(doc.used)
    if decision.counts:
        assert doc.limit.count is not None  # counts only when a quota applies
        used = counters.try_count(
            session,
            user_id=user_id,
            document_id=doc.facts.id,
            action=act,
            period=doc.period,
            limit=doc.limit.count,
        )
        if used is None:  # another request took the last look since we read the count
            decision = _decide(doc.limit.count)
        else:
            decision = replace(decision, views_left=doc.limit.count - used)
    request = _new_request(
        person=person,
        action=act,
        docs=[doc],
        decision=decision,
        reason=reason,
        place=place,
        client=client,
        terms=terms,
        now=now,
    )
    return _finish(session, request=request, decision=decision, person=person, count=1, terms=terms, now=now)


def _export_ids(document_ids: Sequence[str], *, most: int) -> list[str]:
    if not document_ids:
        raise InvalidInput("name at least one document to export")
    if len(document_ids) > most:
        raise InvalidInput(f"an export may hold at most {most} documents")
    if len(set(document_ids)) != len(document_ids):
        raise InvalidInput("each document may be listed only once")
    return list(document_ids)


def request_export(
    *,
    session: Session,
    terms: BrokerTerms,
    user_id: str,
    document_ids: Sequence[str],
    reason: str,
    client: ClientInfo,
    now: datetime,
    place: str | None = None,
) -> AccessOutcome:
    """Decide a bulk export: each document counts against its `export` quota; the archive is all or none."""
    policy = terms.policy
    ids = _export_ids(document_ids, most=terms.export_max_documents)
    reason, place = check_reason(policy, reason), _clean_place(place)
    person, docs, accepted = facts.load(
        session,
        user_id=user_id,
        document_ids=ids,
        action="export",
        policy=policy,
        agreement_version=terms.agreement_version,
        now=now,
    )

    def _decide(spent: str | None = None) -> Decision:
        facts = [(d.facts, (d.limit.count or 0) if d.facts.id == spent else d.used) for d in docs]
        return decide_export(
            policy,
            person=person.facts,
            documents=facts,
            agreement_accepted=accepted,
            approval_above=terms.export_approval_above,
        )

    decision = _decide()
    if decision.counts:
        counted: list[tuple[str, str]] = []
        lefts: list[int] = []
        # Lock counter rows in one order (document id) so concurrent exports cannot deadlock.
        for doc in sorted((d for d in docs if d.limit.count is not None), key=lambda d: d.facts.id):
            assert doc.limit.count is not None
            used = counters.try_count(
                session,
                user_id=user_id,
                document_id=doc.facts.id,
                action="export",
                period=doc.period,
                limit=doc.limit.count,
            )
            if used is None:  # lost a race for this document's last export: give the others back
                counters.uncount(session, user_id=user_id, keys=counted, action="export")
                decision = _decide(spent=doc.facts.id)
                break
            counted.append((doc.facts.id, doc.period))
            lefts.append(doc.limit.count - used)
        else:
            decision = replace(decision, views_left=min(lefts) if lefts else None)
    request = _new_request(
        person=person,
        action="export",
        docs=docs,
        decision=decision,
        reason=reason,
        place=place,
        client=client,
        terms=terms,
        now=now,
    )
    return _finish(
        session, request=request, decision=decision, person=person, count=len(docs), terms=terms, now=now
    )
