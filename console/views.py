"""Rendering console pages: one Jinja2 environment (autoescaped), the headers every page carries, and
the way a domain error becomes a page."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from console.nav import links_for
from console.session import CSRF_FIELD, csrf_token, set_session_cookies
from guard.auth.service import Principal
from guard.errors import PasswordChangeDue
from guard.runtime import Runtime

TEMPLATES = Path(__file__).resolve().parent / "templates"
# No inline script or style anywhere: scripts and styles are same-origin files; a granted copy opens in a
# same-origin frame (the content answer carries its own sandbox policy for active formats).
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _when(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _shown(value: Any) -> str:
    """A number, list or mapping from an alert's details as a person reads it."""
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) else str(int(value))
    if isinstance(value, list | tuple):
        return ", ".join(_shown(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{key.replace('_', ' ')}: {_shown(item)}" for key, item in value.items())
    return str(value)


def _span(seconds: float | None) -> str:
    if not seconds:
        return ""
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 86400:g} days"


def _stamp(value: str | None) -> str:
    """An ISO timestamp from an audit entry (`2026-12-04T14:47:01.123456Z`) as the pages write times."""
    if not value:
        return "—"
    return value[:16].replace("T", " ") + " UTC"


def _query(base: str, **params: Any) -> str:
    kept = {key: value for key, value in params.items() if value not in (None, "")}
    return f"{base}?{urlencode(kept)}" if kept else base


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["when"] = _when
environment.filters["q"] = lambda value: quote(str(value), safe="")
environment.filters["shown"] = _shown
environment.filters["span"] = _span
environment.filters["stamp"] = _stamp
environment.globals["link"] = _query
link = _query


def finish(request: Request, response: Response) -> Response:
    """The headers every console answer carries, and the cookies of tokens renewed on the way."""
    response.headers.update(HEADERS)
    renewed = getattr(request.state, "renewed", None)
    if renewed is not None:
        set_session_cookies(request, response, request.app.state.runtime, renewed.pair)
    return response


def page(
    request: Request,
    template: str,
    *,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    runtime: Runtime = request.app.state.runtime
    html = environment.get_template(template).render(
        request=request,
        me=principal,
        nav=links_for(principal) if principal else [],
        csrf_field=CSRF_FIELD,
        csrf=csrf_token(runtime, principal) if principal else "",
        path=request.url.path,
        **context,
    )
    return finish(request, HTMLResponse(html, status_code=status_code))


def go(request: Request, url: str) -> Response:
    """After a form: see the result on its page (POST, redirect, GET)."""
    return finish(request, RedirectResponse(url, status_code=303))


def error_page(request: Request, status_code: int, detail: str) -> Response:
    if isinstance(getattr(request.state, "error", None), PasswordChangeDue):
        return finish(request, RedirectResponse("/console/password", status_code=303))
    if status_code == 401:
        target = request.url.path if request.method == "GET" else "/console"
        return finish(request, RedirectResponse(_query("/console/sign-in", next=target), status_code=303))
    principal = getattr(request.state, "principal", None)
    return page(
        request,
        "error.html",
        principal=principal,
        status_code=status_code,
        title="Not allowed" if status_code == 403 else "Something is not right",
        detail=detail,
    )
