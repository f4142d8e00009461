"""Sign in and sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import ClientDep, GuardRoute, NowDep, RuntimeDep, SessionDep
from console.deps import FormDep, Poster, field
from console.session import (
    COOKIE_PATH,
    SIGN_IN_COOKIE,
    check_sign_in_nonce,
    clear_session_cookies,
    new_sign_in_nonce,
    set_session_cookies,
)
from console.views import go, page
from guard.auth import service
from guard.auth.sign_in import password_login
from guard.errors import TooManyAttempts, Unauthenticated

router = APIRouter(route_class=GuardRoute, include_in_schema=False)


def _safe_next(target: str) -> str:
    # Only a console page of this server: never another origin (`//host`, `/\host`) or the API.
    if target.startswith("/console") and not target.startswith(("//", "/\\")) and "\\" not in target:
        return target
    return "/console"


def _form(request: Request, *, next_url: str, error: str | None = None, status_code: int = 200) -> Response:
    nonce = new_sign_in_nonce()
    response = page(
        request,
        "sign_in.html",
        principal=None,
        title="Sign in",
        status_code=status_code,
        nonce=nonce,
        next_url=_safe_next(next_url),
        error=error,
        username="",
    )
    secure = request.url.scheme == "https"
    response.set_cookie(
        SIGN_IN_COOKIE, nonce, httponly=True, samesite="strict", secure=secure, path=COOKIE_PATH, max_age=3600
    )
    return response


@router.get("/", include_in_schema=False)
def root(request: Request) -> Response:
    return go(request, "/console")


@router.get("/favicon.ico", include_in_schema=False)
def favicon(request: Request) -> Response:
    return go(request, "/console/static/favicon.svg")


@router.get("/console/sign-in")
def sign_in_form(request: Request, next: str = "/console") -> Response:
    return _form(request, next_url=next)


@router.post("/console/sign-in")
def sign_in(
    request: Request, form: FormDep, session: SessionDep, runtime: RuntimeDep, client: ClientDep, now: NowDep
) -> Response:
    check_sign_in_nonce(request, form)
    next_url = _safe_next(field(form, "next", limit=500) or "/console")
    try:
        pair = password_login(
            session=session,
            runtime=runtime,
            username=field(form, "username", required=True, limit=64),
            password=field(form, "password", required=True, limit=1024),
            client=client,
            now=now,
        )
    except TooManyAttempts as wait:
        return _form(request, next_url=next_url, error=wait.detail, status_code=429)
    except Unauthenticated as refused:  # the failure is recorded and counted: the unit still commits it
        return _form(request, next_url=next_url, error=refused.detail, status_code=401)
    response = go(request, next_url)
    set_session_cookies(request, response, runtime, pair)
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/console/sign-out")
def sign_out(request: Request, principal: Poster, session: SessionDep, now: NowDep) -> Response:
    service.logout(session=session, principal=principal, now=now)
    request.state.renewed = None  # a token refreshed on the way in ends with the rest of the session
    response = go(request, "/console/sign-in")
    clear_session_cookies(response)
    return response
