"""Requests: one's own with their state, approver and note; the approvers' queue; the viewer that opens
a granted copy through its content token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import GuardRoute, NowDep, RuntimeDep, SessionDep
from api.paging import page_request
from api.routers.access import terms
from console.deps import FormDep, Poster, SignedIn, as_signed_in, choice, field
from console.views import go, link, page
from guard import overview
from guard.access import approvals
from guard.auth.service import Principal
from guard.people.service import get_user

router = APIRouter(route_class=GuardRoute, include_in_schema=False)
STATUSES = ("granted", "pending", "denied", "rejected", "expired", "cancelled")


@router.get("/console/requests")
def list_requests(
    request: Request,
    me: SignedIn,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    done: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    viewer = get_user(session=session, user_id=me.user_id)
    policy = runtime.policies.current
    mine = approvals.list_requests(
        session=session,
        viewer=viewer,
        policy=policy,
        now=now,
        page=page_request(runtime.keyring.master_key, cursor, 50),
        status=choice(status, STATUSES, "status"),
        mine=True,
    )
    approver = approvals.sees_all(viewer, policy)
    queue = (
        approvals.list_requests(
            session=session,
            viewer=viewer,
            policy=policy,
            now=now,
            page=page_request(runtime.keyring.master_key, None, 200),
            status="pending",
        ).items
        if approver
        else []
    )
    queue = [view for view in queue if view.request.requester_id != me.user_id]
    every = [view.request for view in [*mine.items, *queue]]
    return page(
        request,
        "requests.html",
        principal=me,
        title="Requests",
        done=done,
        mine=mine,
        queue=queue,
        approver=approver,
        status=status or "",
        steps=overview.steps_of(session, [r.id for r in every]),
        names=overview.titles(session, [r.document_id for r in every if r.document_id]),
        facts=overview.facts_about(session, list({view.request.requester_id for view in queue})),
    )


@router.get("/console/requests/{request_id}")
async def show_request(request_id: str, request: Request, _me: SignedIn) -> Response:
    """Opening one's own granted request issues a content token (GET /access-requests/{id} does the
    same), so this page is a write unit like that endpoint."""
    runtime = request.app.state.runtime
    now = runtime.clock.now()

    def work(session: Session, principal: Principal) -> dict[str, Any]:
        view = approvals.get_request(
            session=session,
            viewer=get_user(session=session, user_id=principal.user_id),
            terms=terms(runtime),
            request_id=request_id,
            now=now,
        )
        ids = (
            [view.request.document_id] if view.request.document_id else list(view.request.document_ids or [])
        )
        return {
            "view": view,
            "steps": overview.steps_of(session, [request_id]).get(request_id, []),
            "names": overview.titles(session, ids),
            "document_ids": ids,
        }

    context = await as_signed_in(request, now, work)
    return page(request, "request.html", principal=_me, title="Request", **context)


async def _decide(request: Request, request_id: str, form: FormDep, verb: str) -> Response:
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    note = field(form, "note")
    decide = approvals.approve if verb == "approve" else approvals.reject

    def work(session: Session, principal: Principal) -> str:
        decided = decide(
            session=session,
            terms=terms(runtime),
            approver=get_user(session=session, user_id=principal.user_id),
            request_id=request_id,
            note=note,
            now=now,
        )
        return decided.status

    state = await as_signed_in(request, now, work)
    return go(request, link("/console/requests", done=f"{verb}d; the request is now {state}"))


@router.post("/console/requests/{request_id}/approve")
async def approve(request_id: str, request: Request, form: FormDep, _me: Poster) -> Response:
    return await _decide(request, request_id, form, "approve")


@router.post("/console/requests/{request_id}/reject")
async def reject(request_id: str, request: Request, form: FormDep, _me: Poster) -> Response:
    return await _decide(request, request_id, form, "reject")


@router.post("/console/requests/{request_id}/cancel")
def cancel(
    request_id: str, request: Request, form: FormDep, me: Poster, session: SessionDep, now: NowDep
) -> Response:
    approvals.cancel(
        session=session,
        user=get_user(session=session, user_id=me.user_id),
        request_id=request_id,
        note=field(form, "note"),
        now=now,
    )
    return go(request, f"/console/requests/{request_id}")
