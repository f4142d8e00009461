"""Passwords: changed by their owner, reset by an admin (a change is then required), set on the host;
a policy refuses weak ones with a reason; every change ends the person's sessions."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from guard.runtime import Runtime, build_runtime
from tests.broker.test_access import audit
from tests.support.live import run_guard as guard
from tests.support.people import PASSWORD, People
from tests.support.settings import guard_settings

NEW = "moss-lantern-quietly-orbits"


def logs_in(client: TestClient, username: str, password: str) -> bool:
    return client.post("/auth/login", json={"username": username, "password": password}).status_code == 200


def test_changing_ones_password_ends_every_session_and_starts_a_new_one(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    ann = people.add("ann")
    elsewhere = people.login("ann")
    wrong = client.post(
        "/me/password", json={"current_password": "not-her-password", "new_password": NEW}, headers=ann.auth
    )
    assert wrong.status_code == 403
    assert audit(runtime, "user.password_change_failed")[0]["reason"] == "wrong current password"
    for weak, why in (
        ("short", "at least 12"),
        ("password1234", "too easy to guess"),
        ("ann@example.com!", "too easy"),
    ):
        refused = client.post(
            "/me/password", json={"current_password": PASSWORD, "new_password": weak}, headers=ann.auth
        )
        assert refused.status_code == 422, weak
        assert why in refused.json()["detail"], refused.json()
    assert logs_in(client, "ann", PASSWORD)  # nothing changed so far
    changed = client.post(
        "/me/password", json={"current_password": PASSWORD, "new_password": NEW}, headers=ann.auth
    )
    assert changed.status_code == 200
    for old in (ann.auth, elsewhere.auth):
        assert client.get("/me", headers=old).status_code == 401
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    assert client.get("/me", headers=fresh).status_code == 200
    assert not logs_in(client, "ann", PASSWORD)
    assert logs_in(client, "ann", NEW)
    assert audit(runtime, "user.password_change")[0]["sessions_ended"] is True


def test_an_admin_reset_requires_a_new_password_before_anything_else(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    ann = people.add("ann")
    sam = people.add("sam", "security")
    reset = client.post(f"/users/{ann.id}/password-reset", headers=people.admin.auth)
    assert reset.status_code == 200
    temporary = reset.json()["temporary_password"]
    assert client.get("/me", headers=ann.auth).status_code == 401  # her sessions ended
    assert [n["kind"] for n in client.get("/notifications", headers=sam.auth).json()] == ["password"]
    assert audit(runtime, "user.password_reset")[0]["change_required"] is True
    login = client.post("/auth/login", json={"username": "ann", "password": temporary})
    assert login.status_code == 200
    assert login.json()["password_change_required"] is True
    limited = {"Authorization": f"Bearer {login.json()['access_token']}"}
    blocked = client.get("/documents", headers=limited)
    assert blocked.status_code == 403
    assert "POST /me/password" in blocked.json()["detail"]
    me = client.get("/me", headers=limited)
    assert me.status_code == 200
    assert me.json()["password_change_required"] is True
    assert client.get("/notifications", headers=limited).status_code == 403  # everything else waits
    changed = client.post(
        "/me/password", json={"current_password": temporary, "new_password": NEW}, headers=limited
    )
    assert changed.status_code == 200
    assert changed.json()["password_change_required"] is False
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    assert client.get("/documents", headers=fresh).status_code == 200
    assert [n["kind"] for n in client.get("/notifications", headers=fresh).json()] == ["password"]
    own = client.post(f"/users/{people.admin.id}/password-reset", headers=people.admin.auth)
    assert own.status_code == 422


def test_only_machine_accounts_may_be_made_without_a_password(client: TestClient, people: People) -> None:
    body = {"username": "bob", "display_name": "Bob", "email": "bob@example.com", "roles": ["staff"]}
    refused = client.post("/users", json=body, headers=people.admin.auth)
    assert refused.status_code == 422
    assert "machine accounts" in refused.json()["detail"]
    machine = {**body, "username": "crm-bot", "email": "crm@example.com", "roles": ["ingest"]}
    made = client.post("/users", json=machine, headers=people.admin.auth)
    assert made.status_code == 201
    assert made.json()["password_set"] is False


def test_the_host_sets_a_password_and_may_require_a_change(tmp_path: Path, bare_db_url: str) -> None:
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
    weak = guard(home, bare_db_url, "users", "passwd", "ann", "--password", "qwertyuiop123")
    assert weak.returncode == 2
    assert "too easy to guess" in weak.stderr
    assert guard(home, bare_db_url, "users", "passwd", "ann").returncode == 2  # no terminal to ask on
    done = guard(home, bare_db_url, "users", "passwd", "ann", "--password", NEW, "--change-required")
    assert done.returncode == 0, done.stderr
    runtime = build_runtime(guard_settings(home, bare_db_url))
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            assert not logs_in(client, "ann", PASSWORD)
            login = client.post("/auth/login", json={"username": "ann", "password": NEW})
            assert login.json()["password_change_required"] is True
    finally:
        runtime.close()
