"""Pending requests: list, read, approve, reject, cancel, expire.

Separation of duties is decided by the pure policy (guard.policies.access.approval_refusal). Approvals are
serialised per request by a row lock (PostgreSQL) or the write lock (SQLite), so N approvers acting at once
still count N distinct approvals. Pending requests expire lazily whenever they are read or acted on, and a
leader-only background job expires the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.access import counters, facts
from guard.access.facts import DocFacts
from guard.access.models import AccessApproval, AccessRequest
from guard.access.service import BrokerTerms, issue_token
from guard.access.standing import refuse_if_disallowed, void_grants
from guard.access.tokens import IssuedToken
from guard.audit.log import record
from guard.auth.service import can_act
from guard.documents.models import Document
from guard.errors import Conflict, Forbidden, InvalidInput, NotFound
from guard.paging import Keyset, Page, PageRequest, paginate
from guard.people.models import User
from guard.policies.access import (
    AccessPolicy,
    Action,
    ApproverFacts,
    Refusal,
    RequestFacts,
    approval_refusal,
    decide,
    decide_export,
)
from guard.types import Role

SYSTEM_ACTOR = "guard"
STATUSES = ("granted", "pending", "denied", "rejected", "expired", "cancelled")
# Besides the approver roles, these may read every request.
OVERSEER_ROLES = frozenset({Role.SECURITY, Role.ADMIN})


@dataclass(frozen=True)
class RequestView:
    request: AccessRequest
    requester: str
    token: IssuedToken | None = None


def sees_all(user: User, policy: AccessPolicy) -> bool:
    return bool(set(user.roles) & (set(policy.approvals.approver_roles) | OVERSEER_ROLES))


def _locked(session: Session, request_id: str) -> AccessRequest:
    query = select(AccessRequest).where(AccessRequest.id == request_id)
    if session.get_bind().dialect.name != "sqlite":  # SQLite: BEGIN IMMEDIATE already serialises writers
        query = query.with_for_update()
    request = session.scalars(query).first()
    if request is None:
        raise NotFound(f"no access request with id {request_id!r}")
    return request


def _step_payload(request: AccessRequest, note: str) -> dict[str, object]:
    return {
        "request_id": request.id,
        **request.document_payload(),
        "note": note,
        "decision": request.status,
        "approvals": request.approvals,
    }


def _close(
    session: Session,
    request: AccessRequest,
    *,
    status: str,
    actor: str,
    action: str,
    note: str,
    now: datetime,
) -> None:
    request.status = status
    request.decided_at = now
    request.pending_until = None
    record(
        session=session,
        actor=actor,
        action=action,
        target=f"access-request:{request.id}",
        payload=_step_payload(request, note),
        ts=now,
    )


def expire_overdue(*, session: Session, now: datetime, request_id: str | None = None) -> int:
    """Expire pending requests whose time is up; returns how many."""
    query = select(AccessRequest).where(AccessRequest.status == "pending", AccessRequest.pending_until <= now)
    if request_id is not None:
        query = query.where(AccessRequest.id == request_id)
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    overdue = list(session.scalars(query.order_by(AccessRequest.pending_until).limit(500)))
    for request in overdue:
        note = "nobody decided before the request expired"
        _close(
            session, request, status="expired", actor=SYSTEM_ACTOR, action="access.expire", note=note, now=now
        )
    session.flush()
    return len(overdue)


def list_requests(
    *,
    session: Session,
    viewer: User,
    policy: AccessPolicy,
    now: datetime,
    page: PageRequest,
    status: str | None = None,
    mine: bool = False,
) -> Page[RequestView]:
    """The viewer's own requests; approvers, security and admins see everyone's unless `mine`. Newest
    first; keyset pages on (created_at, id)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of: {', '.join(STATUSES)}")
    expire_overdue(session=session, now=now)
    query = select(AccessRequest, User.username).join(User, User.id == AccessRequest.requester_id)
    own_only = mine or not sees_all(viewer, policy)
    if own_only:
        query = query.where(AccessRequest.requester_id == viewer.id)
    if status is not None:
        query = query.where(AccessRequest.status == status)
    found = paginate(
        session=session,
        query=query,
        keyset=Keyset([AccessRequest.created_at, AccessRequest.id], descending=True),
        key_of=lambda row: (row[0].created_at, row[0].id),
        request=page,
        scope="access-requests",
        filters={"viewer": viewer.id if own_only else None, "status": status},
    )
    views = [RequestView(request, username) for request, username in found.items]
    return Page(views, found.next_cursor, found.total)


def collectable(request: AccessRequest, now: datetime) -> bool:
    return (
        request.status == "granted"
        and request.delivered_at is None
        and request.revoked_at is None
        and request.grant_until is not None
        and request.grant_until > now
    )


def get_request(
    *, session: Session, viewer: User, terms: BrokerTerms, request_id: str, now: datetime
) -> RequestView:
    """A request as its requester or an overseer sees it. The requester of a granted request that has not
    been collected gets a fresh content token (only the requester: an approver never sees one)."""
    expire_overdue(session=session, now=now, request_id=request_id)
    request = session.get(AccessRequest, request_id)
    own = request is not None and request.requester_id == viewer.id
    if request is None or not (own or sees_all(viewer, terms.policy)):
        raise NotFound(f"no access request with id {request_id!r} that you may read")
    requester = viewer if own else session.get(User, request.requester_id)
    assert requester is not None  # foreign key
    token = None
    if own and collectable(request, now):
        refuse_if_disallowed(session, policy=terms.policy, user=viewer, grant=request, now=now)
        token = issue_token(request, token_version=viewer.token_version, tokens=terms.tokens, now=now)
    return RequestView(request, requester.username, token)


def _open_for_decision(session: Session, request_id: str, *, now: datetime) -> AccessRequest:
    request = _locked(session, request_id)
    if request.status == "pending" and request.pending_until is not None and request.pending_until <= now:
        expire_overdue(session=session, now=now, request_id=request.id)
        raise Conflict("this request expired before anyone decided it; ask again", keep_changes=True)
    if request.status != "pending":
        raise Conflict(f"this request is already {request.status}; only pending requests can be decided")
    return request


def _check_duties(
    session: Session,
    request: AccessRequest,
    *,
    approver: User,
    policy: AccessPolicy,
    verb: str,
    now: datetime,
) -> None:
    keepers = session.execute(
        select(
            Document.author_id, Document.custodian_id, Document.cover_author_id, Document.cover_custodian_id
        ).where(Document.id.in_(request.documents))
    ).all()
    refusal = approval_refusal(
        policy,
        approver=ApproverFacts(approver.id, frozenset(approver.roles), approver.status),
        request=RequestFacts(
            requester_id=request.requester_id,
            # a honeytoken's cover persons count as its author and custodian, as readers see them
            author_ids=frozenset(a for row in keepers for a in (row[0], row[2]) if a),
            custodian_ids=frozenset(c for row in keepers for c in (row[1], row[3]) if c),
        ),
    )
    if refusal is not None:
        record(
            session=session,
            actor=approver.username,
            action=f"access.{verb}_refused",
            target=f"access-request:{request.id}",
            payload={"request_id": request.id, **request.document_payload(), "why": refusal},
            ts=now,
        )
        raise Forbidden(refusal, keep_changes=True)
    already = session.scalar(
        select(AccessApproval.verdict).where(
            AccessApproval.request_id == request.id, AccessApproval.approver_id == approver.id
        )
    )
    if already is not None:
        raise Conflict("you have already approved this request; another approver must add theirs")


def _requester_still_eligible(requester: User, now: datetime) -> str | None:
    if not can_act(requester, now):
        return f"the requester can no longer act ({requester.status})"
    return None


def _redecide(
    session: Session, request: AccessRequest, terms: BrokerTerms, now: datetime
) -> tuple[Refusal | None, list[DocFacts]]:
    """The policy in force, run again on the requester and documents as they are now. Outcomes that ask
    for an approver are what the approvers are giving; a denial stands against them."""
    action = cast(Action, request.action)
    person, docs, accepted = facts.load(
        session,
        user_id=request.requester_id,
        document_ids=request.documents,
        action=action,
        policy=terms.policy,
        agreement_version=terms.agreement_version,
        now=now,
    )
    if action == "export":
        decision = decide_export(
            terms.policy,
            person=person.facts,
            documents=[(d.facts, d.used) for d in docs],
            agreement_accepted=accepted,
            approval_above=terms.export_approval_above,
        )
    else:
        decision = decide(
            terms.policy,
            person=person.facts,
            document=docs[0].facts,
            action=action,
            used=docs[0].used,
            agreement_accepted=accepted,
        )
    if decision.outcome == "denied":
        return Refusal(decision.rule, decision.explanation), docs
    return None, docs


def _take_looks(session: Session, request: AccessRequest, docs: list[DocFacts]) -> Refusal | None:
    """Count the looks the grant uses with the conditional counter of the direct path. A request that was
    asked over quota may take exactly one look beyond the quota; any other may not exceed it."""
    beyond = 1 if request.rule == "quota" else 0
    counted: list[tuple[str, str]] = []
    lefts: list[int] = []
    # One lock order (document id) so concurrent approvals and exports cannot deadlock.
    for doc in sorted((d for d in docs if d.limit.count is not None), key=lambda d: d.facts.id):
        assert doc.limit.count is not None
        ceiling = doc.limit.count + beyond
        used = counters.try_count(
            session,
            user_id=request.requester_id,
            document_id=doc.facts.id,
            action=request.action,
            period=doc.period,
            limit=ceiling,
        )
        if used is None:
            counters.uncount(session, user_id=request.requester_id, keys=counted, action=request.action)
            spent = f"{doc.facts.title!r}: the quota was used up since this request was made"
            if beyond:
                spent = f"{doc.facts.title!r}: the one look beyond the quota was already allowed"
            return Refusal("quota", f"{spent}; nothing more can be granted ({doc.limit.describe()})")
        counted.append((doc.facts.id, doc.period))
        lefts.append(max(0, doc.limit.count - used))
    request.views_left = min(lefts) if lefts else None
    return None


def _refuse(session: Session, request: AccessRequest, refusal: Refusal, *, actor: str, now: datetime) -> None:
    """Close the request as denied by the rule in force now, and say so (the closing is committed)."""
    request.rule, request.explanation = refusal.rule, refusal.explanation[:500]
    _close(
        session,
        request,
        status="denied",
        actor=actor,
        action="access.deny",
        note=refusal.explanation,
        now=now,
    )
    raise Conflict(
        f"{refusal.explanation}; the request was closed as denied", keep_changes=True, rule=refusal.rule
    )


def approve(
    *, session: Session, terms: BrokerTerms, approver: User, request_id: str, note: str, now: datetime
) -> AccessRequest:
    """Add one approval; with enough distinct approvals the request is granted (the requester collects
    the content token with GET /access-requests/{id}). Every approval decides the request again under the
    rules in force; the last one takes the looks with the same conditional counter as a direct grant."""
    request = _open_for_decision(session, request_id, now=now)
    policy = terms.policy
    _check_duties(session, request, approver=approver, policy=policy, verb="approve", now=now)
    requester = session.get(User, request.requester_id)
    assert requester is not None  # foreign key
    ineligible = _requester_still_eligible(requester, now)
    if ineligible is not None:
        _close(
            session,
            request,
            status="cancelled",
            actor=approver.username,
            action="access.cancel",
            note=ineligible,
            now=now,
        )
        raise Conflict(f"{ineligible}; the request was cancelled", keep_changes=True)
    refusal, docs = _redecide(session, request, terms, now)
    final = request.approvals + 1 >= request.approvals_required
    if refusal is None and final:
        refusal = _take_looks(session, request, docs)
    if refusal is not None:
        _refuse(session, request, refusal, actor=approver.username, now=now)
    session.add(
        AccessApproval(
            request_id=request.id, approver_id=approver.id, verdict="approve", note=note, created_at=now
        )
    )
    request.approvals += 1
    if final:
        request.status = "granted"
        request.decided_at = now
        request.pending_until = None
        request.grant_until = now + terms.grant_valid
    record(
        session=session,
        actor=approver.username,
        action="access.approve",
        target=f"access-request:{request.id}",
        payload=_step_payload(request, note),
        ts=now,
    )
    session.flush()
    return request


def reject(
    *, session: Session, terms: BrokerTerms, approver: User, request_id: str, note: str, now: datetime
) -> AccessRequest:
    """One eligible approver's rejection ends the request."""
    request = _open_for_decision(session, request_id, now=now)
    _check_duties(session, request, approver=approver, policy=terms.policy, verb="reject", now=now)
    session.add(
        AccessApproval(
            request_id=request.id, approver_id=approver.id, verdict="reject", note=note, created_at=now
        )
    )
    _close(
        session,
        request,
        status="rejected",
        actor=approver.username,
        action="access.reject",
        note=note,
        now=now,
    )
    session.flush()
    return request


def cancel(*, session: Session, user: User, request_id: str, note: str, now: datetime) -> AccessRequest:
    """The requester withdraws their own pending request."""
    request = _locked(session, request_id)
    if request.requester_id != user.id:
        raise NotFound(f"no access request with id {request_id!r} of yours")
    if request.status != "pending":
        raise Conflict(f"this request is already {request.status}; only pending requests can be cancelled")
    _close(
        session, request, status="cancelled", actor=user.username, action="access.cancel", note=note, now=now
    )
    session.flush()
    return request


def end_access_for(*, session: Session, user_id: str, actor: str, note: str, now: datetime) -> dict[str, int]:
    """For a departure: cancel the person's pending requests and void uncollected grants (each audited)."""
    pending = list(
        session.scalars(
            select(AccessRequest).where(
                AccessRequest.requester_id == user_id, AccessRequest.status == "pending"
            )
        )
    )
    for request in pending:
        _close(session, request, status="cancelled", actor=actor, action="access.cancel", note=note, now=now)
    departed = Refusal("departed", note)
    requester = session.get(User, user_id)
    assert requester is not None  # foreign key
    voided = void_grants(
        session=session, user=requester, actor=actor, now=now, refusal=lambda _grant: departed
    )
    return {"cancelled": len(pending), "revoked": voided}
