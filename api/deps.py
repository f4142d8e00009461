"""Request dependencies: the runtime, the one transaction per request, the acting principal, role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from guard.auth.service import ClientInfo, Principal, authenticate_api_key, authenticate_bearer
from guard.errors import Forbidden, GuardError, Unauthenticated, Unavailable
from guard.runtime import Runtime


# Dependencies that do no I/O are `async def` so FastAPI does not hop to the thread pool for them.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

# Requests that write (or read-then-write) start an IMMEDIATE transaction on SQLite; plain reads do not.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _session(request: Request, runtime: RuntimeDep) -> Iterator[Session]:
    """The request's single transaction: committed before the answer leaves, rolled back on error."""
    route = request.scope.get("route")
    extra = (getattr(route, "openapi_extra", None) or {}) if route else {}
    marked = bool(extra.get("x-writes"))
    writes = request.method not in READ_ONLY_METHODS or marked
    factory = runtime.db.write if writes else runtime.db.read
    session = factory()
    try:
        yield session
        session.commit()
    except GuardError as exc:
        if exc.keep_changes:
            session.commit()
        else:
            session.rollback()
        raise
    except OperationalError as exc:
        session.rollback()
        raise Unavailable("the database is not available; nothing was changed") from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(_session, scope="function")]

# Mark a GET route that writes (e.g. consuming a single-use content token).
WRITES = {"x-writes": True}


async def client_info(request: Request) -> ClientInfo:
    return ClientInfo(
        address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


ClientDep = Annotated[ClientInfo, Depends(client_info)]


async def now(runtime: RuntimeDep) -> datetime:
    return runtime.clock.now()


NowDep = Annotated[datetime, Depends(now)]


def current_principal(request: Request, session: SessionDep, runtime: RuntimeDep, at: NowDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if not credentials:
        raise Unauthenticated("missing credentials: send 'Authorization: Bearer <access token>'")
    if scheme.lower() == "bearer":
        principal = authenticate_bearer(session=session, codec=runtime.codec, token=credentials, now=at)
    elif scheme.lower() == "apikey":
        principal = authenticate_api_key(session=session, key=credentials, now=at)
    else:
        raise Unauthenticated("unsupported authorization scheme; use Bearer or ApiKey")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets through only people holding one of `roles`."""

    def _check(principal: PrincipalDep) -> Principal:
        if not principal.has_any(*roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
        return principal

    return _check
