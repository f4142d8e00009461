"""The API reference at /docs, served from local assets: Swagger UI from the npm package installed by
`make` (node_modules/swagger-ui-dist), started by Guard's own script. Nothing loads from another origin."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ROOT = Path(__file__).resolve().parents[2]
SWAGGER_UI = ROOT / "node_modules" / "swagger-ui-dist"
OWN_ASSETS = Path(__file__).resolve().parents[1] / "static"
# Swagger UI needs inline styles and data: images; scripts stay same-origin files.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Guard API</title>
<link rel="stylesheet" href="/assets/swagger-ui/swagger-ui.css">
<link rel="icon" href="/assets/swagger-ui/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/assets/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/assets/swagger-ui/swagger-ui-standalone-preset.js"></script>
<script src="/assets/guard/docs.js"></script>
</body>
</html>
"""
MISSING = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Guard API</title></head>
<body><h1>Guard API</h1><p>The API reference needs its front-end packages: run <code>make run</code> (or
<code>npm ci</code> in the Guard directory). The OpenAPI document itself is at
<a href="/openapi.json">/openapi.json</a>.</p></body></html>"""

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    installed = (SWAGGER_UI / "swagger-ui-bundle.js").is_file()
    return HTMLResponse(
        PAGE if installed else MISSING,
        status_code=200 if installed else 503,
        headers={"content-security-policy": DOCS_POLICY, "cache-control": "no-store"},
    )


def mount_assets(app: FastAPI) -> None:
    app.mount("/assets/guard", StaticFiles(directory=OWN_ASSETS), name="guard-assets")
    app.mount("/assets/swagger-ui", StaticFiles(directory=SWAGGER_UI, check_dir=False), name="swagger-ui")
