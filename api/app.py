"""The app factory: settings, keys and database are built here, never at import time."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.logging import configure_logging
from api.metrics import Metrics
from api.middleware import GuardMiddleware
from api.openapi import install_openapi
from api.routers import (
    access,
    agreements,
    alerts,
    audit,
    auth,
    content,
    customers,
    docs,
    documents,
    events,
    hr,
    notifications,
    ops,
    role_changes,
    rules,
    users,
)
from console.app import install_console
from guard import __version__
from guard.clock import Clock
from guard.daemons import build_daemons
from guard.runtime import Runtime, build_runtime
from guard.settings import Settings, load_settings

# Requests are matched against the routes in this order, one by one: the broker's routes, the busiest
# by far, come right after the health checks. No two routers share a path prefix, so order is not meaning.
ROUTERS = (
    ops.router,
    access.router,
    content.router,
    auth.router,
    users.router,
    role_changes.router,
    notifications.router,
    alerts.router,
    events.router,
    rules.router,
    customers.router,
    documents.router,
    agreements.router,
    hr.router,
    audit.router,
)


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, runtime: Runtime | None = None
) -> FastAPI:
    settings = settings or (runtime.settings if runtime else load_settings())
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    runtime = runtime or build_runtime(settings, clock=clock)
    background = settings.background_workers

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Background jobs and watchers run beside the API in every worker (jobs marked leader_only in one).
        daemons = build_daemons(runtime) if background else []
        for daemon in daemons:
            daemon.start()
        try:
            yield
        finally:
            for daemon in reversed(daemons):
                daemon.stop()

    app = FastAPI(
        title="Guard",
        version=__version__,
        description="Customer-document broker and leaver guard.",
        lifespan=lifespan,
        docs_url=None,  # served from local assets by api.routers.docs
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.metrics = Metrics()
    install_error_handlers(app)
    install_openapi(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(docs.router)
    docs.mount_assets(app)
    install_console(app)
    app.add_middleware(
        GuardMiddleware,
        metrics=app.state.metrics,
        json_limit=settings.http.max_body_bytes,
        upload_limit=settings.http.upload_max_bytes,
    )
    return app


def serve_app() -> FastAPI:
    """The factory `guard serve` runs in each worker process: the app, then a garbage collector tuned
    for a long-running server. Everything built at start-up (modules, mappers, compiled statements,
    policies) lives as long as the process, so it is frozen out of the collector's reach, and the first
    generation is collected less often; without this the tail latency of decisions is three times the
    median, almost all of it collection pauses (`python -m benchmarks broker`)."""
    app = create_app()
    threshold = app.state.runtime.settings.http.gc_first_generation
    if threshold:
        gc.collect()
        gc.freeze()
        _, second, third = gc.get_threshold()
        gc.set_threshold(threshold, second, third)
    return app
