"""Liveness, readiness and metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import GuardRoute, RuntimeDep
from guard.readiness import check_readiness, is_ready

router = APIRouter(tags=["operations"], route_class=GuardRoute)


@router.get("/healthz")
def healthz() -> dict[str, str | int]:
    return {"status": "ok", "worker": os.getpid()}


@router.get("/readyz")
def readyz(runtime: RuntimeDep) -> JSONResponse:
    """200 when Guard can work now, else 503; both name every check's outcome (guard.readiness).
    A plain `def`: the checks do blocking I/O, so FastAPI runs them in its thread pool."""
    checks = check_readiness(runtime)
    ready = is_ready(checks)
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": {check.name: check.outcome for check in checks},
        },
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
