"""The admin and security roles change only with a second person; nobody changes their own roles."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from guard.clock import FixedClock
from guard.runtime import Runtime, build_runtime
from tests.broker.test_access import audit
from tests.support.live import run_guard as guard
from tests.support.people import PASSWORD, People
from tests.support.settings import guard_settings


def roles_of(client: TestClient, people: People, user_id: str) -> list[str]:
    return list(client.get(f"/users/{user_id}", headers=people.admin.auth).json()["roles"])


def propose(client: TestClient, by: dict[str, str], user_id: str, roles: list[str]):  # type: ignore[no-untyped-def]
    body = {"user_id": user_id, "roles": roles, "reason": "joins the security team"}
    return client.post("/role-changes", json=body, headers=by)


def test_one_admin_proposes_another_confirms_and_only_then_it_applies(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    ann = people.add("ann")
    bea = people.add("bea", "admin")
    sam = people.add("sam", "security")
    # The direct ways are closed: a PATCH, and creating someone with the role.
    patched = client.patch(
        f"/users/{ann.id}", json={"roles": ["staff", "security"]}, headers=people.admin.auth
    )
    assert patched.status_code == 409
    assert "second person" in patched.json()["detail"]
    body = {
        "username": "zoe",
        "display_name": "Zoe",
        "email": "z@example.com",
        "roles": ["admin"],
        "password": PASSWORD,
    }
    assert client.post("/users", json=body, headers=people.admin.auth).status_code == 422

    proposed = propose(client, people.admin.auth, ann.id, ["staff", "security"])
    assert proposed.status_code == 201
    change = proposed.json()
    assert change["status"] == "pending"
    assert roles_of(client, people, ann.id) == ["staff"]  # nothing applied yet
    told = [n for n in client.get("/notifications", headers=bea.auth).json() if n["kind"] == "role_change"]
    assert told[0]["data"]["role_change"] == change["id"]
    assert [n["kind"] for n in client.get("/notifications", headers=sam.auth).json()] == ["role_change"]

    own = client.post(f"/role-changes/{change['id']}/confirm", headers=people.admin.auth)
    assert own.status_code == 403  # the proposer cannot confirm
    confirmed = client.post(f"/role-changes/{change['id']}/confirm", headers=bea.auth)
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["decided_by"] == "bea"
    assert roles_of(client, people, ann.id) == ["staff", "security"]
    assert client.post(f"/role-changes/{change['id']}/confirm", headers=bea.auth).status_code == 409
    (entry,) = audit(runtime, "user.roles_confirmed")
    assert entry["proposed_by"] == "root"
    assert entry["to"] == ["staff", "security"]


def test_nobody_changes_their_own_roles(client: TestClient, people: People) -> None:
    bea = people.add("bea", "admin")
    assert (
        client.patch(f"/users/{bea.id}", json={"roles": ["admin", "approver"]}, headers=bea.auth).status_code
        == 403
    )
    assert propose(client, bea.auth, bea.id, ["admin", "security"]).status_code == 403
    change = propose(client, people.admin.auth, bea.id, ["admin", "security"]).json()
    assert client.post(f"/role-changes/{change['id']}/confirm", headers=bea.auth).status_code == 403


def test_a_stale_or_old_proposal_is_not_applied(
    client: TestClient, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    ann = people.add("ann")
    bea = people.add("bea", "admin")
    stale = propose(client, people.admin.auth, ann.id, ["staff", "security"]).json()
    assert (
        client.patch(
            f"/users/{ann.id}", json={"roles": ["staff", "approver"]}, headers=people.admin.auth
        ).status_code
        == 200
    )
    refused = client.post(f"/role-changes/{stale['id']}/confirm", headers=bea.auth)
    assert refused.status_code == 409
    assert "changed since" in refused.json()["detail"]
    old = propose(client, people.admin.auth, ann.id, ["staff", "approver", "security"]).json()
    clock.advance(timedelta(days=1))
    bea = people.login("bea")
    expired = client.post(f"/role-changes/{old['id']}/confirm", headers=bea.auth)
    assert expired.status_code == 409
    statuses = {c["id"]: c["status"] for c in client.get("/role-changes", headers=bea.auth).json()}
    assert statuses == {stale["id"]: "stale", old["id"]: "expired"}
    people.refresh_admin()
    assert roles_of(client, people, ann.id) == ["staff", "approver"]


def test_a_proposal_can_be_rejected_with_a_note(client: TestClient, people: People) -> None:
    ann = people.add("ann")
    change = propose(client, people.admin.auth, ann.id, ["staff", "admin"]).json()
    url = f"/role-changes/{change['id']}/reject"
    assert client.post(url, json={"note": "\u200b"}, headers=people.admin.auth).status_code == 422
    rejected = client.post(url, json={"note": "withdrawn: wrong person"}, headers=people.admin.auth)
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert roles_of(client, people, ann.id) == ["staff"]


def test_the_host_grants_where_there_is_no_second_admin(tmp_path: Path, bare_db_url: str) -> None:
    home = tmp_path / "home"
    assert (
        guard(home, bare_db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple").returncode == 0
    )
    added = guard(
        home, bare_db_url, "users", "add", "ann", "--email", "ann@example.com", "--password", PASSWORD
    )
    assert added.returncode == 0, added.stderr
    granted = guard(home, bare_db_url, "users", "grant", "ann", "security")
    assert granted.returncode == 0, granted.stderr
    assert "staff, security" in granted.stdout
    taken = guard(home, bare_db_url, "users", "grant", "ann", "security", "--remove")
    assert "roles staff" in taken.stdout
    runtime = build_runtime(guard_settings(home, bare_db_url))
    try:
        entries = audit(runtime, "user.roles_granted")
    finally:
        runtime.close()
    assert [e["to"] for e in entries] == [["staff", "security"], ["staff"]]
    assert all(e["on_host"] is True and e["auth"]["method"] == "host" for e in entries)
