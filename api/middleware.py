"""Pure ASGI middleware: body-size limit, per-request metrics and one JSON log line per request."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics

log = logging.getLogger("guard.access")


class BodyTooLarge(Exception):
    pass


def _too_large_response(limit: int) -> list[Message]:
    body = b'{"detail":"the request body is larger than the limit of %d bytes"}' % limit
    return [
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        },
        {"type": "http.response.body", "body": body},
    ]


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
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        limit = self.upload_limit if content_type.startswith("multipart/") else self.json_limit
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            for message in _too_large_response(limit):
                await send(message)
            self._observe(scope, 413, started)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, limited_receive, recording_send)
        except BodyTooLarge:
            for message in _too_large_response(limit):
                await send(message)
            status_holder["status"] = 413
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
                "path": scope.get("path"),
                "route": template,
                "status": status,
                "ms": round(elapsed * 1000, 2),
                "client": client[0] if client else None,
            },
        )
