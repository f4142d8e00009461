"""What `guard serve` writes to its log: every request, never a credential that could be replayed."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
from sqlalchemy import select

from guard.audit.models import AuditEntry
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.support.live import live_server
from tests.support.people import PASSWORD, People


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


def test_no_secret_handed_out_in_a_whole_scenario_reaches_the_log_or_the_audit_log(
    runtime: Runtime, guard_home: Path, db_url: str
) -> None:
    secrets: list[str] = []
    with (
        live_server(guard_home, db_url, GUARD_LOG_LEVEL="DEBUG", GUARD_LOG_JSON="true") as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        people = People(http, runtime)  # type: ignore[arg-type]
        broker = Broker(http, people)  # type: ignore[arg-type]
        ann = broker.person("ann")
        secrets += [PASSWORD, ann.access_token, ann.refresh_token, people.admin.access_token]
        rotated = http.post("/auth/refresh", json={"refresh_token": ann.refresh_token}).json()
        secrets += [rotated["access_token"], rotated["refresh_token"]]
        assert (
            http.post("/auth/refresh", json={"refresh_token": ann.refresh_token}).status_code == 401
        )  # reuse
        crm = people.add("crm-bot", "ingest", login=False)
        key = http.post(f"/users/{crm.id}/api-keys", json={"name": "crm"}, headers=people.admin.auth).json()
        secrets.append(key["key"])
        assert http.get("/me", headers={"Authorization": f"ApiKey {key['key']}"}).status_code == 200
        assert http.get("/me", headers={"Authorization": f"ApiKey {key['key']}x"}).status_code == 401
        ann = people.login("ann")
        grant = broker.ask(ann, broker.upload(broker.customer(ann), classification="public"))
        secrets.append(grant["content_token"])
        assert http.get(grant["content_url"]).status_code == 200
        new_password = "moss-lantern-quietly-orbits"
        secrets.append(new_password)
        changed = http.post(
            "/me/password",
            json={"current_password": PASSWORD, "new_password": new_password},
            headers=ann.auth,
        )
        assert changed.status_code == 200
        secrets += [changed.json()["access_token"], changed.json()["refresh_token"]]
        reset = http.post(f"/users/{ann.id}/password-reset", headers=people.admin.auth).json()
        secrets.append(reset["temporary_password"])
    logged = "".join(path.read_text() for path in guard_home.glob("serve-*.log"))
    assert '"route"' in logged  # the requests were logged
    with runtime.db.read() as session:
        bodies = "".join(session.scalars(select(AuditEntry.body)))
    for secret in secrets:
        assert secret not in logged
        assert secret not in bodies
