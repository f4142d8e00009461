"""What the log records about access to Guard itself: logins, refreshes, logouts, people and keys."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select

from guard.audit.models import AuditEntry
from guard.runtime import Runtime
from tests.support.people import PASSWORD, People


def recorded(runtime: Runtime, action: str) -> list[dict[str, Any]]:
    with runtime.db.read() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq))
        return [orjson.loads(row.body) for row in rows]


def test_the_account_lifecycle_is_recorded_with_client_addresses(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    ann = people.add("ann")
    assert (
        client.post("/auth/login", json={"username": "ann", "password": "not-her-password"}).status_code
        == 401
    )
    refreshed = client.post("/auth/refresh", json={"refresh_token": ann.refresh_token})
    assert refreshed.status_code == 200
    assert client.post("/auth/refresh", json={"refresh_token": ann.refresh_token}).status_code == 401  # reuse
    client.patch(f"/users/{ann.id}", json={"roles": ["staff", "author"]}, headers=people.admin.auth)
    client.post(f"/users/{ann.id}/api-keys", json={"name": "crm"}, headers=people.admin.auth)
    again = people.login("ann", PASSWORD)
    assert client.post("/auth/logout", headers=again.auth).status_code == 204

    assert [e["actor"] for e in recorded(runtime, "auth.login")] == ["root", "ann", "ann"]
    assert recorded(runtime, "auth.login")[1]["payload"]["client"] == "testclient"
    assert recorded(runtime, "auth.login_failed")[0]["payload"] == {
        "reason": "bad password",
        "burst": "started",
        "client": "testclient",
        "user_agent": "testclient",
    }
    assert recorded(runtime, "auth.refresh")[0]["payload"]["client"] == "testclient"
    assert recorded(runtime, "auth.refresh_reuse")[0]["actor"] == "ann"
    assert recorded(runtime, "user.update")[0]["payload"]["roles"]["to"] == ["staff", "author"]
    assert recorded(runtime, "apikey.create")[0]["payload"]["name"] == "crm"
    assert recorded(runtime, "auth.logout")[0]["actor"] == "ann"


def test_refused_refreshes_are_recorded(client: TestClient, people: People, runtime: Runtime) -> None:
    ann = people.add("ann")
    assert client.post("/auth/refresh", json={"refresh_token": "rt_made-up"}).status_code == 401
    assert client.post("/auth/logout", headers=ann.auth).status_code == 204
    assert client.post("/auth/refresh", json={"refresh_token": ann.refresh_token}).status_code == 401
    failures = recorded(runtime, "auth.refresh_failed")
    assert [(f["actor"], f["payload"]["reason"]) for f in failures] == [
        ("unknown", "unknown token"),
        ("ann", "revoked"),
    ]
    assert all(f["payload"]["client"] == "testclient" for f in failures)
