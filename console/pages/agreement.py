"""The confidentiality agreement: read it and accept it, as POST /me/agreements does. Nobody gets a
document before accepting the version in force."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import ClientDep, GuardRoute, NowDep, RuntimeDep, SessionDep
from console.deps import FormDep, Poster, SignedIn, field
from console.views import go, page
from guard.agreements import service

router = APIRouter(route_class=GuardRoute, include_in_schema=False)


@router.get("/console/agreement")
def agreement(request: Request, me: SignedIn, session: SessionDep, runtime: RuntimeDep) -> Response:
    current = runtime.agreements.current
    accepted = service.has_accepted(session=session, user_id=me.user_id, version=current.version)
    return page(
        request,
        "agreement.html",
        principal=me,
        title="Confidentiality agreement",
        agreement=current,
        accepted=accepted,
    )


@router.post("/console/agreement")
def accept(
    request: Request,
    form: FormDep,
    me: Poster,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    now: NowDep,
) -> Response:
    service.accept(
        session=session,
        user_id=me.user_id,
        username=me.username,
        version=field(form, "version", required=True, limit=64),
        current=runtime.agreements.current,
        client=client,
        now=now,
    )
    return go(request, "/console/documents")
