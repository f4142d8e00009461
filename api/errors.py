"""Map domain errors and malformed requests to JSON `{"detail": ...}`; bad input is never a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from guard.errors import (
    ConfigError,
    Conflict,
    Forbidden,
    Gone,
    GuardError,
    InvalidInput,
    NotFound,
    TooLarge,
    TooManyAttempts,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("guard.api")

STATUS_BY_ERROR: dict[type[GuardError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    Gone: 410,
    TooLarge: 413,
    TooManyAttempts: 429,
    Unavailable: 503,
    ConfigError: 503,
}


def status_for(exc: GuardError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "request")


PAGES_PREFIX = "/console"


def _as_page(request: Request, status: int, detail: str, error: Exception | None = None) -> Response | None:
    """The console's pages answer errors as pages (the mapping to a status stays this module's)."""
    render = getattr(request.app.state, "page_errors", None)
    if render is None or not request.url.path.startswith(PAGES_PREFIX):
        return None
    request.state.error = error
    answer: Response = render(request, status, detail)
    return answer


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GuardError)
    async def _guard_error(request: Request, exc: GuardError) -> Response:
        status = status_for(exc)
        if (shown := _as_page(request, status, exc.detail, exc)) is not None:
            return shown
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, TooManyAttempts):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            return JSONResponse({"detail": "the request body is not valid JSON"}, status_code=400)
        messages = []
        for err in errors:
            where = _location(tuple(err.get("loc", ())))
            if err.get("type") == "extra_forbidden":
                messages.append(f"{where}: unknown field")
            else:
                messages.append(f"{where}: {err.get('msg', 'invalid')}")
        if (shown := _as_page(request, 422, "; ".join(messages))) is not None:
            return shown
        clean = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
        return JSONResponse({"detail": "; ".join(messages), "errors": clean}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and detail == "Not Found":
            detail = "no such endpoint"
        elif exc.status_code == 405:
            detail = "this endpoint does not accept that method"
        if (shown := _as_page(request, exc.status_code, detail)) is not None:
            return shown
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(DBAPIError)
    async def _database_error(_request: Request, exc: DBAPIError) -> JSONResponse:
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            log.error("database unavailable", extra={"error": str(exc.orig)})
            return JSONResponse(
                {"detail": "the database is not available; nothing was changed"}, status_code=503
            )
        log.exception("database error")
        return JSONResponse(
            {"detail": "the request could not be stored; nothing was changed"}, status_code=503
        )
