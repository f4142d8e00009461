"""The API reference at /docs works offline: Swagger UI from the locally installed package, every request
to the server's own origin, and an Authorize button offering the bearer token and the API key."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser

from tests.support.live import live_server


def test_the_api_reference_loads_from_the_server_alone_with_authorize(
    browser: Browser, guard_home: Path, db_url: str
) -> None:
    with live_server(guard_home, db_url) as base:
        origin = urlsplit(base).netloc
        context = browser.new_context()
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        failed: list[str] = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        blocked: list[str] = []
        page.on(
            "console",
            lambda message: blocked.append(message.text) if "Content Security" in message.text else None,
        )
        response = page.goto(f"{base}/docs")
        assert response is not None
        assert response.status == 200
        page.get_by_role("button", name="Authorize").click()
        modal = page.locator(".modal-ux")  # Swagger UI's "Available authorizations"
        modal.wait_for()
        offered = modal.inner_text()
        assert "(http, Bearer)" in offered
        assert "apiKey" in offered
        assert "Authorization" in offered  # the header the API key goes in
        page.get_by_text("/access-requests", exact=False).first.wait_for()
        context.close()
    assert requested, "the page made no requests at all"
    assert {urlsplit(url).netloc for url in requested if not url.startswith("data:")} == {origin}
    assert failed == []
    assert blocked == []
