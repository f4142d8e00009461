"""Liveness, readiness and metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from api.deps import GuardRoute, RuntimeDep

router = APIRouter(tags=["operations"], route_class=GuardRoute)


@router.get("/healthz")
def healthz() -> dict[str, str | int]:
    return {"status": "ok", "worker": os.getpid()}


@router.get("/readyz")
def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with runtime.db.engine.connect() as connection:
            head = connection.execute(text("SELECT seq FROM audit_head WHERE id = 1")).scalar_one_or_none()
        checks["database"] = "ok" if head is not None else "not migrated: run `guard init`"
    except Exception as exc:  # any failure means not ready; say which
        checks["database"] = f"unreachable: {type(exc).__name__}"
    keys_dir = runtime.settings.keys_path
    checks["keys"] = "ok" if (keys_dir / "jwt" / "ACTIVE").exists() and runtime.keyring else "missing"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
