"""`guard demo` gives a newcomer an organisation that works through the real API at once."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from guard.runtime import build_runtime
from tests.support.live import run_guard as guard
from tests.support.settings import guard_settings

PASSWORD = "demo-password-for-tests"


def test_demo_organisation_can_log_in_and_read_through_the_broker(tmp_path: Path, bare_db_url: str) -> None:
    home = tmp_path / "home"
    assert (
        guard(home, bare_db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple").returncode == 0
    )
    created = guard(home, bare_db_url, "demo", "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
    assert "mia (staff)" in created.stdout
    again = guard(home, bare_db_url, "demo")
    assert again.returncode == 2
    assert "already there" in again.stderr

    settings = guard_settings(home, bare_db_url, log_json=True)
    runtime = build_runtime(settings)
    with TestClient(create_app(runtime=runtime)) as client:
        token = client.post("/auth/login", json={"username": "mia", "password": PASSWORD}).json()
        mia = {"Authorization": f"Bearer {token['access_token']}"}
        version = client.get("/agreements/current", headers=mia).json()["version"]
        assert client.post("/me/agreements", json={"version": version}, headers=mia).status_code == 201
        documents = {d["title"]: d for d in client.get("/documents", headers=mia).json()}
        assert len(documents) == 4
        own = documents["Northwind account history"]
        granted = client.post(
            "/access-requests",
            json={"document_id": own["id"], "action": "view", "reason": "preparing the renewal call"},
            headers=mia,
        ).json()
        assert granted["status"] == "granted"
        content = client.get(f"/content/{granted['content_token']}")
        assert content.status_code == 200
        assert "renewal due in Q3" in content.text
        assert "mia" in content.text  # the watermark names the reader
        elsewhere = client.post(
            "/access-requests",
            json={
                "document_id": documents["Fabrikam preferences"]["id"],
                "action": "view",
                "reason": "curious about another rep's customer",
            },
            headers=mia,
        ).json()
        assert elsewhere["status"] == "pending"  # not her portfolio: an approver decides
    runtime.close()
