"""Choosing a new password: one's own change, and the only page open after an admin's reset."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import ClientDep, GuardRoute, NowDep, RuntimeDep, SessionDep
from console.deps import FormDep, Poster, SignedIn, field
from console.session import set_session_cookies
from console.views import go, page
from guard.auth.sign_in import change_own_password
from guard.errors import InvalidInput

router = APIRouter(route_class=GuardRoute, include_in_schema=False)


@router.get("/console/password")
def password_form(request: Request, me: SignedIn) -> Response:
    return page(
        request, "password.html", principal=me, title="Choose a new password", due=me.must_change_password
    )


@router.post("/console/password")
def change_password(
    request: Request,
    form: FormDep,
    me: Poster,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    now: NowDep,
) -> Response:
    new = field(form, "new_password", required=True, limit=1024)
    if new != field(form, "repeat_password", limit=1024):
        raise InvalidInput("the new password and its repetition differ")
    pair = change_own_password(
        session=session,
        runtime=runtime,
        user_id=me.user_id,
        current_password=field(form, "current_password", required=True, limit=1024),
        new_password=new,
        client=client,
        now=now,
    )
    request.state.renewed = None  # every earlier session has ended: this one goes on with the new pair
    response = go(request, "/console")
    set_session_cookies(request, response, runtime, pair)
    return response
