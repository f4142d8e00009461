"""Who is signed in, and the posted form checked against the session's CSRF token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from api import unit
from api.deps import NowDep, RuntimeDep, authenticate
from console.session import check_csrf, read_session
from guard.auth.service import Principal
from guard.db import transaction
from guard.errors import InvalidInput


def signed_in(request: Request, runtime: RuntimeDep, at: NowDep) -> Principal:
    """The session cookie's person, checked as the API checks a bearer token (status, holds, token version,
    revocations), in a short read of its own on the thread pool."""
    credential = read_session(request, runtime, at)
    with transaction(runtime.db.read) as session:
        return authenticate(request, session, credential, at)


SignedIn = Annotated[Principal, Depends(signed_in)]
T = TypeVar("T")


async def posted_form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=2000)


FormDep = Annotated[FormData, Depends(posted_form)]


def checked_poster(principal: SignedIn, runtime: RuntimeDep, form: FormDep) -> Principal:
    """A signed-in person whose form carries this session's CSRF token."""
    check_csrf(runtime, principal, form)
    return principal


Poster = Annotated[Principal, Depends(checked_poster)]


def field(form: FormData, name: str, *, required: bool = False, limit: int = 1000) -> str:
    """One text field of a posted form, trimmed; a missing required one or an over-long one is a 422
    that changes nothing (the domain then checks the content as it does for the API)."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    label = name.replace("_", " ")
    if required and not text:
        raise InvalidInput(f"fill in {label}")
    if len(text) > limit:
        raise InvalidInput(f"{label} is longer than {limit} characters")
    return text


def choice(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    """A select box's value: its empty first option means "any"; anything else must be one of `allowed`."""
    if not value:
        return None
    if value not in allowed:
        raise InvalidInput(f"{name} must be one of: {', '.join(allowed)}")
    return value


async def as_signed_in(request: Request, now: datetime, work: Callable[[Session, Principal], T]) -> T:
    """Run `work` as one write unit of the signed-in person (see api.unit), with the session cookie as
    the credential: the person is checked again inside the unit, in the same transaction as the work."""
    runtime = request.app.state.runtime
    credential = read_session(request, runtime, now)
    return await unit.as_principal(request, runtime, now, work, credential=credential)


async def in_read(request: Request, build: Callable[[Session], T]) -> T:
    """`build` in a read transaction of its own, off the event loop: a form shown again with its error
    after the unit that refused it has rolled back."""
    runtime = request.app.state.runtime

    def run() -> T:
        with transaction(runtime.db.read) as session:
            return build(session)

    return await run_in_threadpool(run)
