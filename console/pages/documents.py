"""Staff: find a document (by title, customer, classification, one's own customers), see the looks left,
and ask for it with a reason."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import GuardRoute, NowDep, RuntimeDep, SessionDep, describe_client
from api.paging import page_request
from api.routers.access import terms
from console.deps import FormDep, Poster, SignedIn, as_signed_in, choice, field, in_read
from console.views import go, page
from guard import overview
from guard.access import service as access
from guard.agreements import service as agreements
from guard.auth.service import Principal
from guard.customers.service import get_customer
from guard.documents import service as documents
from guard.errors import InvalidInput
from guard.people.service import get_user
from guard.runtime import Runtime
from guard.types import Role

router = APIRouter(route_class=GuardRoute, include_in_schema=False)
CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
Text = Annotated[str | None, Query(max_length=200)]
INSIDERS = (Role.SECURITY, Role.ADMIN)


@router.get("/console/documents")
def list_documents(
    request: Request,
    me: SignedIn,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
    title: Text = None,
    customer: Text = None,
    classification: Text = None,
    mine: bool = False,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    found = documents.list_documents(
        session=session,
        policy=runtime.policies.current,
        reader=get_user(session=session, user_id=me.user_id),
        now=now,
        page=page_request(runtime.keyring.master_key, cursor, 50),
        title=title or None,
        customer_name=customer or None,
        classification=choice(classification, CLASSIFICATIONS, "classification"),
        owner_id=me.user_id if mine else None,
    )
    names = overview.customer_names(session, [view.document.customer_id for view in found.items])
    return page(
        request,
        "documents.html",
        principal=me,
        title="Documents",
        found=found,
        names=names,
        insider=me.has_any(*INSIDERS),
        filters={
            "title": title or "",
            "customer": customer or "",
            "classification": classification or "",
            "mine": mine,
        },
    )


@router.get("/console/documents/{document_id}")
def show_document(
    document_id: str, request: Request, me: SignedIn, session: SessionDep, runtime: RuntimeDep, now: NowDep
) -> Response:
    return _document_page(request, me, session, runtime, now, document_id)


def _document_page(
    request: Request,
    me: Principal,
    session: Session,
    runtime: Runtime,
    now: datetime,
    document_id: str,
    *,
    status_code: int = 200,
    **form: str | None,
) -> Response:
    view = documents.get_document(
        session=session,
        document_id=document_id,
        policy=runtime.policies.current,
        reader=get_user(session=session, user_id=me.user_id),
        now=now,
    )
    author, custodian = view.shown(insider=me.has_any(*INSIDERS))
    due = not agreements.has_accepted(
        session=session, user_id=me.user_id, version=runtime.agreements.current.version
    )
    return page(
        request,
        "document.html",
        principal=me,
        status_code=status_code,
        title=view.document.title,
        view=view,
        author=author,
        custodian=custodian,
        customer=get_customer(session=session, customer_id=view.document.customer_id),
        agreement_due=due,
        **form,
    )


@router.post("/console/documents/{document_id}/request")
async def request_document(document_id: str, request: Request, form: FormDep, me: Poster) -> Response:
    """The same decision as POST /access-requests, in one unit of work with the session's person. Input
    the broker refuses shows the form again with the message and what was typed."""
    runtime = request.app.state.runtime
    client, now = describe_client(request), runtime.clock.now()
    action = field(form, "action") or "view"
    reason, place = field(form, "reason"), field(form, "place", limit=200)

    def work(session: Session, principal: Principal) -> str:
        outcome = access.request_access(
            session=session,
            terms=terms(runtime),
            user_id=principal.user_id,
            client=client,
            now=now,
            document_id=document_id,
            action=action if action in ("view", "download") else "view",
            reason=reason,
            place=place or None,
        )
        request.app.state.metrics.decisions.labels(outcome.decision.outcome).inc()
        return outcome.request.id

    try:
        request_id = await as_signed_in(request, now, work)
    except InvalidInput as refused:
        problem = refused.detail
        return await in_read(
            request,
            lambda session: _document_page(
                request,
                me,
                session,
                runtime,
                now,
                document_id,
                status_code=422,
                error=problem,
                reason=reason,
                place=place,
            ),
        )
    return go(request, f"/console/requests/{request_id}")
