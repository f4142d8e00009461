"""What `guard serve` writes to its log: every request, never a credential that could be replayed."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.support.live import live_server
from tests.support.people import People


def test_the_access_log_never_holds_a_whole_content_token(
    runtime: Runtime, guard_home: Path, db_url: str
) -> None:
    with (
        live_server(guard_home, db_url, GUARD_LOG_LEVEL="INFO", GUARD_LOG_JSON="true") as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        broker = Broker(http, People(http, runtime))  # type: ignore[arg-type]
        ann = broker.person("ann")
        grant = broker.ask(ann, broker.upload(broker.customer(ann), classification="public"))
        token = grant["content_token"]
        assert http.get(grant["content_url"]).status_code == 200
        assert http.get(f"/content/{token}").status_code == 410  # used once; the refusal is logged too
    text = "".join(path.read_text() for path in guard_home.glob("serve-*.log"))
    requests = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
    content = [entry for entry in requests if entry.get("route") == "/content/{token}"]
    assert [entry["status"] for entry in content] == [200, 410]
    assert {entry["path"] for entry in content} == {f"/content/…{token[-6:]}"}
    assert token not in text
