"""Every audit entry of an authenticated action names the credential behind it and the client address."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.broker.test_access import audit
from tests.support.live import run_guard as guard
from tests.support.people import PASSWORD
from tests.support.settings import guard_settings

CLIENT = "testclient"  # the address Starlette's test client reports


def session_of(access_token: str, runtime: Runtime) -> str | None:
    return runtime.codec.decode(access_token, now=runtime.clock.now()).fam


def test_a_logged_in_session_is_named_before_and_after_a_refresh(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann), classification="public")
    assert broker.ask(ann, document)["status"] == "granted"
    (first,) = audit(runtime, "access.view")
    session = session_of(ann.access_token, runtime)
    assert first["auth"] == {"method": "password", "session": session, "client": CLIENT}

    rotated = client.post("/auth/refresh", json={"refresh_token": ann.refresh_token}).json()
    ann.access_token = rotated["access_token"]
    assert broker.ask(ann, document)["status"] == "granted"
    second = audit(runtime, "access.view")[-1]
    assert second["auth"] == {"method": "refresh", "session": session, "client": CLIENT}


def test_an_admin_acting_through_a_key_made_for_someone_else_shows(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann), classification="public")
    admin = broker.people.admin
    key = client.post(f"/users/{ann.id}/api-keys", json={"name": "script"}, headers=admin.auth).json()
    body = {"document_id": document, "action": "view", "reason": "checking the renewal terms"}
    answer = client.post("/access-requests", json=body, headers={"Authorization": f"ApiKey {key['key']}"})
    assert answer.status_code == 201
    (entry,) = audit(runtime, "access.view")
    assert entry["actor"] == "ann"
    assert entry["auth"] == {
        "method": "api_key",
        "key": key["id"],
        "key_created_by": admin.username,
        "client": CLIENT,
    }


def test_administration_and_holds_name_the_session(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    admin = broker.people.admin
    held = client.post(
        f"/users/{ann.id}/holds", json={"kind": "review", "reason": "checking a report"}, headers=admin.auth
    )
    assert held.status_code == 201
    (entry,) = audit(runtime, "user.hold")
    assert entry["auth"] == {
        "method": "password",
        "session": session_of(admin.access_token, runtime),
        "client": CLIENT,
    }


def test_a_content_delivery_names_no_session(broker: Broker, client: TestClient, runtime: Runtime) -> None:
    ann = broker.person("ann")
    grant = broker.ask(ann, broker.upload(broker.customer(ann), classification="public"))
    assert client.get(grant["content_url"]).status_code == 200
    (delivered,) = audit(runtime, "content.deliver")
    assert "auth" not in delivered  # the content token is the credential, and the entry names its grant


def test_the_command_line_names_the_host_account(tmp_path: Path, bare_db_url: str) -> None:
    home = tmp_path / "home"
    assert (
        guard(home, bare_db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple").returncode == 0
    )
    assert (
        guard(
            home, bare_db_url, "users", "add", "ann", "--email", "ann@example.com", "--password", PASSWORD
        ).returncode
        == 0
    )
    from guard.runtime import build_runtime

    runtime = build_runtime(guard_settings(home, bare_db_url))
    try:
        created = [e for e in audit(runtime, "user.create") if e["target"] == "user:ann"]
    finally:
        runtime.close()
    assert created[0]["auth"]["method"] == "host"
    assert created[0]["auth"]["user"]
