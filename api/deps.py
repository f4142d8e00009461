"""Request dependencies: the runtime, the one transaction per request, the acting principal, role checks."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from guard.audit.log import act_with
from guard.auth import service as auth
from guard.auth.service import ClientInfo, Credential, Principal
from guard.db import end_unit, transaction
from guard.errors import Forbidden, InvalidInput, PasswordChangeDue, Unauthenticated
from guard.people import api_keys
from guard.runtime import Runtime


# Dependencies that do no I/O are `async def` so FastAPI does not hop to the thread pool for them.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

# Requests that write (or read-then-write) start an IMMEDIATE transaction on SQLite; plain reads do not.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _session(request: Request, runtime: RuntimeDep) -> AsyncIterator[Session]:
    """The request's session. Routes built with GuardRoute commit it on the thread that ran them (see
    `commit_in_route_thread`); this dependency only opens it and, at the end, closes it (rolling back
    whatever a failed request left)."""
    route = request.scope.get("route")
    extra = (getattr(route, "openapi_extra", None) or {}) if route else {}
    writes = request.method not in READ_ONLY_METHODS or bool(extra.get("x-writes"))
    session = (runtime.db.write if writes else runtime.db.read)()
    try:
        yield session
    except BaseException as exc:
        end_unit(session, exc)  # the route's thread normally ended it already; then this is a no-op
        raise
    else:
        end_unit(session, None)
    finally:
        session.close()


def commit_in_route_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a sync route so its session commits (or rolls back) on the same thread that did the work.

    FastAPI runs each sync dependency and the route in separate hops to its thread pool. If the commit
    happened in a later hop, a request holding a lock (SQLite's write lock, a PostgreSQL row lock, the
    audit chain head) would wait for a free thread while every thread waits for that lock. Committing
    before the route's thread is released means whoever holds a lock also holds the thread that frees it.
    """
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        session = next((value for value in kwargs.values() if isinstance(value, Session)), None)
        if session is None:
            return endpoint(*args, **kwargs)
        principal = next((value for value in kwargs.values() if isinstance(value, Principal)), None)
        act_with(session, principal.credential() if principal else None)
        try:
            result = endpoint(*args, **kwargs)
        except BaseException as exc:
            end_unit(session, exc)
            raise
        end_unit(session, None)
        return result

    return run


class GuardRoute(APIRoute):
    """Every router uses this route class: see `commit_in_route_thread`. It also refuses query parameters
    the route does not take (422): a misspelt filter must not silently widen a list to everything."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, commit_in_route_thread(endpoint), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()
        accepted = _query_names(self.dependant)
        if accepted is None:  # the route checks its own parameters (see `checks_own_query`)
            return handler

        async def checked(request: Request) -> Any:
            unknown = sorted({name for name in request.query_params if name not in accepted})
            if unknown:
                takes = ", ".join(sorted(accepted)) or "no query parameters"
                raise InvalidInput(f"unknown query parameter {unknown[0]!r}; this endpoint takes: {takes}")
            return await handler(request)

        return checked


def checks_own_query(check: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a dependency that validates the query string itself (the route's declared parameters are
    then not the whole list)."""
    check.checks_own_query = True  # type: ignore[attr-defined]
    return check


def _query_names(dependant: Any) -> frozenset[str] | None:
    names: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        if getattr(current.call, "checks_own_query", False):
            return None
        names.update(param.alias for param in current.query_params)
        stack.extend(current.dependencies)
    return frozenset(names)


SessionDep = Annotated[Session, Depends(_session, scope="function")]

# Mark a GET route that writes (e.g. consuming a single-use content token).
WRITES = {"x-writes": True}


def describe_client(request: Request) -> ClientInfo:
    return ClientInfo(
        address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


async def client_info(request: Request) -> ClientInfo:
    return describe_client(request)


ClientDep = Annotated[ClientInfo, Depends(client_info)]


async def now(runtime: RuntimeDep) -> datetime:
    return runtime.clock.now()


NowDep = Annotated[datetime, Depends(now)]


def read_credential(request: Request, runtime: Runtime, at: datetime) -> Credential:
    """The request's credential, checked without the database (see guard.auth.service)."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if not credentials:
        raise Unauthenticated("missing credentials: send 'Authorization: Bearer <access token>'")
    if scheme.lower() == "bearer":
        return auth.bearer_credential(codec=runtime.codec, token=credentials, now=at)
    if scheme.lower() == "apikey":
        return auth.api_key_credential(key=credentials)
    raise Unauthenticated("unsupported authorization scheme; use Bearer or ApiKey")


# What a person whose password was reset may do before choosing a new one.
WHILE_CHANGE_DUE = frozenset(
    {
        ("POST", "/me/password"),
        ("GET", "/me"),
        ("POST", "/auth/logout"),
        ("POST", "/auth/logout-all"),
        ("GET", "/console/password"),
        ("POST", "/console/password"),
        ("POST", "/console/sign-out"),
    }
)


def authenticate(request: Request, session: Session, credential: Credential, at: datetime) -> Principal:
    """Who sent this request, checked against the database in `session` (status, token version,
    revocations); the principal is kept on the request for the access log and metrics."""
    principal = auth.authenticate(session=session, credential=credential, now=at)
    if principal.must_change_password and (request.method, request.url.path) not in WHILE_CHANGE_DUE:
        raise PasswordChangeDue(
            "your password was reset: choose a new one first (POST /me/password, or the console's form)"
        )
    if request.client is not None:
        principal = replace(principal, client=request.client.host)
    request.state.principal = principal
    return principal


def note_key_use(session: Session, principal: Principal, at: datetime) -> None:
    """An API key's last use, kept to the minute, in the caller's write transaction."""
    if principal.api_key_id is not None:
        api_keys.note_key_use(
            session=session, key_id=principal.api_key_id, last_used_at=principal.key_last_used, now=at
        )


def current_principal(request: Request, runtime: RuntimeDep, at: NowDep) -> Principal:
    """Authenticate in a short read transaction of its own, in the thread pool (never a database call on
    the event loop): one primary-key read that never waits for a lock, and no lock is held from here to
    the route. A bad credential is refused before any connection is taken. An API key's first use in a
    minute is noted in a short write of its own."""
    credential = read_credential(request, runtime, at)
    with transaction(runtime.db.read) as session:
        principal = authenticate(request, session, credential, at)
    if principal.api_key_id is not None and api_keys.key_use_due(principal.key_last_used, at):
        with transaction(runtime.db.write) as session:
            note_key_use(session, principal, at)
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets through only people holding one of `roles`."""

    def _check(principal: PrincipalDep) -> Principal:
        if not principal.has_any(*roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
        return principal

    return _check
