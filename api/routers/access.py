"""Access requests, approvals and bulk exports.

Every working person may ask; the policy decides in-line. Approvers act on pending requests (separation
of duties is the policy's, so a refusal is a 403 that says why). An approved request's content token goes
to the requester only, through GET /access-requests/{id}, never to the approver.

These routes contend for the same rows, so each runs as one unit on one thread (see api.unit) instead of
through SessionDep and PrincipalDep; the transaction, the principal check and the rules are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import unit
from api.deps import WRITES, GuardRoute, NowDep, RuntimeDep, describe_client
from api.paging import PAGED, CursorQuery, LimitQuery, page_request, send_page
from api.schemas import Strict
from guard.access import approvals, service
from guard.access.models import AccessRequest
from guard.access.tokens import IssuedToken
from guard.auth.service import Principal
from guard.people.models import User
from guard.people.service import get_user
from guard.runtime import Runtime

router = APIRouter(tags=["access"], route_class=GuardRoute)
StatusName = Literal["granted", "pending", "denied", "rejected", "expired", "cancelled"]


class AccessRequestIn(Strict):
    document_id: str = Field(min_length=1, max_length=32)
    action: Literal["view", "download"]
    reason: str = Field(max_length=1000)
    place: str | None = Field(None, max_length=200, description="where the person is, e.g. 'client site'")


class ExportIn(Strict):
    document_ids: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        min_length=1, max_length=1000
    )
    reason: str = Field(max_length=1000)
    place: str | None = Field(None, max_length=200)


class NoteIn(Strict):
    note: str = Field("", max_length=1000)


class AccessRequestOut(BaseModel):
    id: str
    status: str
    rule: str
    explanation: str
    views_left: int | None
    content_token: str | None = None
    content_url: str | None = None
    expires_at: datetime | None = None  # of the content token, or of a pending request
    action: str
    document_id: str | None
    document_ids: list[str] | None
    requester: str
    reason: str
    place: str | None
    created_at: datetime
    decided_at: datetime | None
    approvals: int
    approvals_required: int
    delivered_at: datetime | None
    # Set when a later change (notice, a hold, departure, a stricter policy) voided the grant uncollected.
    voided_at: datetime | None = None


def terms(runtime: Runtime) -> service.BrokerTerms:
    broker = runtime.settings.broker
    return service.BrokerTerms(
        policy=runtime.policies.current,
        agreement_version=runtime.agreements.current.version,
        tokens=runtime.content_tokens,
        grant_valid=timedelta(hours=broker.grant_valid_hours),
        pending_expiry=timedelta(hours=broker.pending_expiry_hours),
        export_approval_above=broker.export_approval_above,
        export_max_documents=broker.export_max_documents,
    )


def _out(request: AccessRequest, requester: str, token: IssuedToken | None = None) -> AccessRequestOut:
    expires = token.expires_at if token else (request.pending_until if request.status == "pending" else None)
    return AccessRequestOut(
        id=request.id,
        status=request.status,
        rule=request.rule,
        explanation=request.explanation,
        views_left=request.views_left,
        content_token=token.token if token else None,
        content_url=f"/content/{token.token}" if token else None,
        expires_at=expires,
        action=request.action,
        document_id=request.document_id,
        document_ids=request.document_ids,
        requester=requester,
        reason=request.reason,
        place=request.place,
        created_at=request.created_at,
        decided_at=request.decided_at,
        approvals=request.approvals,
        approvals_required=request.approvals_required,
        delivered_at=request.delivered_at,
        voided_at=request.revoked_at,
    )


def _count(http: Request, outcome: str) -> None:
    http.app.state.metrics.decisions.labels(outcome).inc()


def _me(session: Session, principal: Principal) -> User:
    return get_user(session=session, user_id=principal.user_id)


def _requester(session: Session, request: AccessRequest) -> str:
    return get_user(session=session, user_id=request.requester_id).username


async def _decide(http: Request, decide: Callable[..., service.AccessOutcome]) -> AccessRequestOut:
    """One decision (an access request or an export) as one unit of work.

    These are the busiest routes: the runtime, client and time are read here rather than through
    dependencies, which FastAPI resolves one by one on every request. `decide` is the service call with
    the request's own arguments bound; it gets the session, the terms, the person, the client and the time.
    """
    runtime: Runtime = http.app.state.runtime
    client, now = describe_client(http), runtime.clock.now()

    def work(session: Session, principal: Principal) -> tuple[str, AccessRequestOut]:
        outcome = decide(
            session=session, terms=terms(runtime), user_id=principal.user_id, client=client, now=now
        )
        return outcome.decision.outcome, _out(outcome.request, principal.username, outcome.token)

    decision, answer = await unit.as_principal(http, runtime, now, work)
    _count(http, decision)
    return answer


@router.post("/access-requests", status_code=201, response_model=AccessRequestOut)
async def request_access(body: AccessRequestIn, http: Request) -> AccessRequestOut:
    return await _decide(
        http,
        partial(
            service.request_access,
            document_id=body.document_id,
            action=body.action,
            reason=body.reason,
            place=body.place,
        ),
    )


@router.post("/exports", status_code=201, response_model=AccessRequestOut)
async def request_export(body: ExportIn, http: Request) -> AccessRequestOut:
    return await _decide(
        http,
        partial(service.request_export, document_ids=body.document_ids, reason=body.reason, place=body.place),
    )


@router.get("/access-requests", response_model=list[AccessRequestOut], openapi_extra=WRITES, responses=PAGED)
async def list_requests(
    http: Request,
    response: Response,
    runtime: RuntimeDep,
    now: NowDep,
    status: Annotated[StatusName | None, Query()] = None,
    mine: Annotated[bool, Query(description="only the caller's own requests")] = False,
    cursor: CursorQuery = None,
    limit: LimitQuery = 200,
) -> list[AccessRequestOut]:
    """Requests, newest first (one's own unless an overseer); pages with the X-Next-Cursor header."""

    def work(session: Session, principal: Principal) -> list[AccessRequestOut]:
        page = approvals.list_requests(
            session=session,
            viewer=_me(session, principal),
            policy=runtime.policies.current,
            now=now,
            page=page_request(runtime.keyring.master_key, cursor, limit),
            status=status,
            mine=mine,
        )
        send_page(http, response, page)
        return [_out(v.request, v.requester) for v in page.items]

    return await unit.as_principal(http, runtime, now, work)


@router.get("/access-requests/{request_id}", response_model=AccessRequestOut, openapi_extra=WRITES)
async def get_request(request_id: str, http: Request, runtime: RuntimeDep, now: NowDep) -> AccessRequestOut:
    def work(session: Session, principal: Principal) -> AccessRequestOut:
        view = approvals.get_request(
            session=session,
            viewer=_me(session, principal),
            terms=terms(runtime),
            request_id=request_id,
            now=now,
        )
        return _out(view.request, view.requester, view.token)

    return await unit.as_principal(http, runtime, now, work)


@router.post("/access-requests/{request_id}/approve", response_model=AccessRequestOut)
async def approve(
    request_id: str, body: NoteIn, http: Request, runtime: RuntimeDep, now: NowDep
) -> AccessRequestOut:
    def work(session: Session, principal: Principal) -> AccessRequestOut:
        request = approvals.approve(
            session=session,
            terms=terms(runtime),
            approver=_me(session, principal),
            request_id=request_id,
            note=body.note,
            now=now,
        )
        return _out(request, _requester(session, request))

    answer = await unit.as_principal(http, runtime, now, work)
    if answer.status == "granted":
        _count(http, "granted")
    return answer


@router.post("/access-requests/{request_id}/reject", response_model=AccessRequestOut)
async def reject(
    request_id: str, body: NoteIn, http: Request, runtime: RuntimeDep, now: NowDep
) -> AccessRequestOut:
    def work(session: Session, principal: Principal) -> AccessRequestOut:
        request = approvals.reject(
            session=session,
            terms=terms(runtime),
            approver=_me(session, principal),
            request_id=request_id,
            note=body.note,
            now=now,
        )
        return _out(request, _requester(session, request))

    answer = await unit.as_principal(http, runtime, now, work)
    _count(http, "denied")
    return answer


@router.post("/access-requests/{request_id}/cancel", response_model=AccessRequestOut)
async def cancel(
    request_id: str, body: NoteIn, http: Request, runtime: RuntimeDep, now: NowDep
) -> AccessRequestOut:
    def work(session: Session, principal: Principal) -> AccessRequestOut:
        request = approvals.cancel(
            session=session, user=_me(session, principal), request_id=request_id, note=body.note, now=now
        )
        return _out(request, principal.username)

    return await unit.as_principal(http, runtime, now, work)
