"""API keys are managed: who made each one, when it was last used, expiry, revocation; a key made for
someone else is announced to that person and to security."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from guard.clock import FixedClock
from guard.runtime import Runtime
from tests.broker.test_access import audit
from tests.support.live import live_server, worker_pids
from tests.support.live import run_guard as guard
from tests.support.people import People


def api_key(key: str) -> dict[str, str]:
    return {"Authorization": f"ApiKey {key}"}


def notifications(client: TestClient, auth: dict[str, str]) -> list[dict]:  # type: ignore[type-arg]
    return [n for n in client.get("/notifications", headers=auth).json() if n["kind"] == "apikey"]


def test_a_key_made_for_someone_else_is_announced_listed_and_traced(
    client: TestClient, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    crm = people.add("crm-bot", "ingest")
    sec = people.add("sam", "security")
    made = client.post(f"/users/{crm.id}/api-keys", json={"name": "CRM sync"}, headers=people.admin.auth)
    assert made.status_code == 201
    key = made.json()
    assert key["created_by"] == people.admin.username
    assert key["state"] == "active"
    assert key["last_used_at"] is None
    # The person the key acts as, and security, are told who made it.
    for person in (crm, sec):
        (told,) = notifications(client, person.auth)
        assert people.admin.username in told["subject"]
        assert told["data"]["key_id"] == key["id"]
    (entry,) = audit(runtime, "apikey.create")
    assert entry["for_someone_else"] is True

    clock.advance(timedelta(minutes=5))
    assert client.get("/me", headers=api_key(key["key"])).json()["username"] == "crm-bot"
    listed = client.get(f"/users/{crm.id}/api-keys", headers=sec.auth)
    assert listed.status_code == 200
    (row,) = listed.json()
    assert "key" not in row  # the secret is shown once, at creation
    assert row["prefix"] == key["key"][:10]
    assert row["last_used_at"] == clock.now().isoformat().replace("+00:00", "Z")


def test_a_revoked_key_stops_at_once_and_says_who_and_why(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    crm = people.add("crm-bot", "ingest")
    sec = people.add("sam", "security")
    key = client.post(f"/users/{crm.id}/api-keys", json={"name": "CRM"}, headers=people.admin.auth).json()
    assert client.get("/me", headers=api_key(key["key"])).status_code == 200
    url = f"/users/{crm.id}/api-keys/{key['id']}"
    for blank in ("", "   ", "\u200b\u200b"):
        refused = client.request("DELETE", url, json={"reason": blank}, headers=sec.auth)
        assert refused.status_code == 422, blank
    assert client.get("/me", headers=api_key(key["key"])).status_code == 200  # nothing changed
    revoked = client.request("DELETE", url, json={"reason": "leaked in a ticket"}, headers=sec.auth)
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked"
    assert revoked.json()["revoked_by"] == "sam"
    assert revoked.json()["revoke_reason"] == "leaked in a ticket"
    assert client.get("/me", headers=api_key(key["key"])).status_code == 401
    again = client.request("DELETE", url, json={"reason": "twice"}, headers=sec.auth)
    assert again.status_code == 409
    (entry,) = audit(runtime, "apikey.revoke")
    assert entry["reason"] == "leaked in a ticket"
    other = client.request(
        "DELETE", f"/users/{sec.id}/api-keys/{key['id']}", json={"reason": "wrong person"}, headers=sec.auth
    )
    assert other.status_code == 404  # a key is revoked under its own person only


def test_a_key_can_expire_by_itself(client: TestClient, people: People, clock: FixedClock) -> None:
    crm = people.add("crm-bot", "ingest")
    url = f"/users/{crm.id}/api-keys"
    soon = (clock.now() + timedelta(minutes=5)).isoformat()
    for bad in (
        (clock.now() - timedelta(seconds=1)).isoformat(),
        "2027-01-01T00:00:00",
        "0001-01-01T00:00:00Z",
    ):
        refused = client.post(url, json={"name": "CRM", "expires_at": bad}, headers=people.admin.auth)
        assert refused.status_code == 422, bad
    key = client.post(url, json={"name": "CRM", "expires_at": soon}, headers=people.admin.auth).json()
    assert client.get("/me", headers=api_key(key["key"])).status_code == 200
    clock.advance(timedelta(minutes=6))
    expired = client.get("/me", headers=api_key(key["key"]))
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    (row,) = client.get(url, headers=people.admin.auth).json()
    assert row["state"] == "expired"


def test_only_admins_security_and_the_owner_see_or_revoke_keys(client: TestClient, people: People) -> None:
    ann = people.add("ann")
    bob = people.add("bob")
    key = client.post(f"/users/{ann.id}/api-keys", json={"name": "script"}, headers=people.admin.auth).json()
    assert client.get(f"/users/{ann.id}/api-keys", headers=bob.auth).status_code == 403
    revoke = {"reason": "not mine"}
    url = f"/users/{ann.id}/api-keys/{key['id']}"
    assert client.request("DELETE", url, json=revoke, headers=bob.auth).status_code == 403
    assert client.post(f"/users/{ann.id}/api-keys", json={"name": "x"}, headers=ann.auth).status_code == 403
    assert [k["id"] for k in client.get(f"/users/{ann.id}/api-keys", headers=ann.auth).json()] == [key["id"]]
    own = client.request("DELETE", url, json={"reason": "I no longer run that script"}, headers=ann.auth)
    assert own.status_code == 200
    assert own.json()["revoked_by"] == "ann"


def test_the_cli_makes_lists_and_revokes_keys(tmp_path: Path, bare_db_url: str) -> None:
    home = tmp_path / "home"
    assert (
        guard(home, bare_db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple").returncode == 0
    )
    assert (
        guard(
            home, bare_db_url, "users", "add", "hr-bot", "--email", "hr@example.com", "--role", "hr"
        ).returncode
        == 0
    )
    made = guard(home, bare_db_url, "users", "api-keys", "create", "hr-bot", "--name", "HR connector")
    assert made.returncode == 0, made.stderr
    key_id = made.stdout.split()[3]
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("gk_")
    listed = guard(home, bare_db_url, "users", "api-keys", "list", "hr-bot")
    assert key_id in listed.stdout
    assert "active" in listed.stdout
    assert secret not in listed.stdout
    no_reason = guard(home, bare_db_url, "users", "api-keys", "revoke", "hr-bot", key_id, "--reason", " ")
    assert no_reason.returncode == 2
    revoked = guard(home, bare_db_url, "users", "api-keys", "revoke", "hr-bot", key_id, "--reason", "rotated")
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in guard(home, bare_db_url, "users", "api-keys", "list", "hr-bot").stdout


def test_a_revoked_key_is_refused_on_the_next_request_in_every_worker(
    postgres_url: str, guard_home: Path, pg_people: People
) -> None:
    crm = pg_people.add("crm-bot", "ingest", login=False)
    with live_server(guard_home, postgres_url, workers=2) as base, httpx.Client(base_url=base) as http:
        assert len(worker_pids(base)) == 2
        admin = People(http, pg_people.runtime).login("root").auth  # type: ignore[arg-type]
        key = httpx.post(f"{base}/users/{crm.id}/api-keys", json={"name": "crm"}, headers=admin).json()
        auth = api_key(key["key"])
        # Fresh connections land on either worker (both answered above): the key works ...
        assert all(httpx.get(f"{base}/me", headers=auth).status_code == 200 for _ in range(20))
        revoked = httpx.request(
            "DELETE", f"{base}/users/{crm.id}/api-keys/{key['id']}", json={"reason": "leaked"}, headers=admin
        )
        assert revoked.status_code == 200
        # ... and from the very next request on, on both, it is refused.
        answers = [httpx.get(f"{base}/me", headers=auth) for _ in range(20)]
    assert {a.status_code for a in answers} == {401}
