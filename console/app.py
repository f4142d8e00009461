"""Mount the console on the app: its pages, its own script and style, and the front-end packages it
serves from node_modules (htmx, Chart.js), installed by `make` from package-lock.json."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from console.pages import (
    agreement,
    alerts,
    audit,
    documents,
    home,
    leavers,
    password,
    people,
    requests,
    rules,
    sign_in,
)
from console.views import error_page

ROOT = Path(__file__).resolve().parents[1]
OWN = Path(__file__).resolve().parent / "static"
PACKAGES = {
    "htmx": ROOT / "node_modules" / "htmx.org" / "dist",
    "chart.js": ROOT / "node_modules" / "chart.js" / "dist",
}
PAGES = (sign_in, password, agreement, home, documents, requests, alerts, audit, leavers, people, rules)


def install_console(app: FastAPI) -> None:
    for module in PAGES:
        app.include_router(module.router)
    app.state.page_errors = error_page
    app.mount("/console/static", StaticFiles(directory=OWN), name="console-static")
    for name, folder in PACKAGES.items():
        app.mount(
            f"/console/vendor/{name}", StaticFiles(directory=folder, check_dir=False), name=f"vendor-{name}"
        )
