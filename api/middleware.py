"""Pure ASGI middleware: body-size limit, per-request metrics and one JSON log line per request."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics
from guard.bounds import bad_character

log = logging.getLogger("guard.access")


def _json_response(status: int, body: bytes) -> list[Message]:
    return [
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        },
        {"type": "http.response.body", "body": body},
    ]


def _too_large_response(limit: int) -> list[Message]:
    return _json_response(413, b'{"detail":"the request body is larger than the limit of %d bytes"}' % limit)


BAD_ADDRESS = _json_response(422, b'{"detail":"the address may not contain NUL or control characters"}')


def _bad_address(scope: Scope) -> bool:
    """NUL or control characters in the path or query: refused before anything reads them (PostgreSQL
    would refuse a NUL with an error, and a log line would hide what was asked)."""
    query = unquote_plus(scope.get("query_string", b"").decode("latin-1"))
    return any(bad_character(part) is not None for part in (scope.get("path", ""), query))


class GuardMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, json_limit: int, upload_limit: int) -> None:
        self.app = app
        self.metrics = metrics
        self.json_limit = json_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        if _bad_address(scope):
            for message in BAD_ADDRESS:
                await send(message)
            self._observe(scope, 422, started)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        limit = self.upload_limit if content_type.startswith("multipart/") else self.json_limit
        status_holder: dict[str, Any] = {"status": 500}

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            for message in _too_large_response(limit):
                await send(message)
            self._observe(scope, 413, started)
            return

        received = 0
        refused = False  # a body without a declared length went over the limit: 413 already sent

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer here: an exception raised into the app's body parsing would become its 400.
                    refused = True
                    status_holder["status"] = 413
                    for reply in _too_large_response(limit):
                        await send(reply)
                    return {"type": "http.disconnect"}
            return message

        async def recording_send(message: Message) -> None:
            if refused:
                return
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, limited_receive, recording_send)
        except Exception:
            if not refused:  # the app gave up on the body it was refused; nothing else to say
                raise
        self._observe(scope, status_holder["status"], started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        self.metrics.requests.labels(method, template, str(status)).inc()
        self.metrics.latency.labels(method, template).observe(elapsed)
        client = scope.get("client")
        log.info(
            "request",
            extra={
                "method": method,
                "path": loggable_path(scope),
                "route": template,
                "status": status,
                "ms": round(elapsed * 1000, 2),
                "client": client[0] if client else None,
            },
        )


# Path parameters that are credentials: a content token is a bearer capability for a document.
SECRET_PATH_PARAMS = frozenset({"token"})
SHOWN_SUFFIX = 6  # the signature's last characters: enough to tell two tokens apart, useless to replay


def loggable_path(scope: Scope) -> str:
    """The request path as the access log may keep it: a credential in the path shortened to its end."""
    path: str = scope.get("path", "")
    for name, value in (scope.get("path_params") or {}).items():
        if name in SECRET_PATH_PARAMS and isinstance(value, str) and len(value) > SHOWN_SUFFIX:
            path = path.replace(value, f"…{value[-SHOWN_SUFFIX:]}")
    return path
