"""People administration: role checks, validation, API keys."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from guard.audit.models import AuditEntry
from tests.support.people import PASSWORD, People


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/users/x"),
        ("PATCH", "/users/x"),
        ("POST", "/users/x/api-keys"),
    ],
)
def test_staff_get_403_on_admin_endpoints(client: TestClient, people: People, method: str, path: str) -> None:
    ann = people.add("ann", "staff", "approver")
    body = {"username": "zed", "display_name": "Zed", "email": "zed@example.com"} if path == "/users" else {}
    if path.endswith("api-keys"):
        body = {"name": "ci"}
    response = client.request(method, path, json=body if method != "GET" else None, headers=ann.auth)
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]


def test_admin_creates_lists_and_changes_people(client: TestClient, people: People) -> None:
    admin = people.admin
    people.add("mia", "staff")
    created = client.post(
        "/users",
        json={
            "username": "ann",
            "display_name": "Ann",
            "email": "Ann@Example.com",
            "roles": ["staff"],
            "manager": "mia",
            "department": "Sales",
            "employee_id": "E-1",
            "password": PASSWORD,
        },
        headers=admin.auth,
    )
    assert created.status_code == 201
    ann = created.json()
    assert ann["email"] == "ann@example.com"
    assert ann["manager"] == "mia"
    assert ann["status"] == "active"
    listed = client.get("/users", headers=admin.auth).json()
    assert {u["username"] for u in listed} == {"root", "mia", "ann"}
    patched = client.patch(f"/users/{ann['id']}", json={"roles": ["staff", "approver"]}, headers=admin.auth)
    assert patched.json()["roles"] == ["staff", "approver"]
    with people.runtime.db.read() as session:
        update = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.update")).one()
    assert update.actor == "root"
    assert update.target == "user:ann"
    assert '"approver"' in update.body


def test_duplicate_username_is_409_and_changes_nothing(client: TestClient, people: People) -> None:
    people.add("ann", login=False)
    again = client.post(
        "/users",
        json={"username": "ann", "display_name": "A", "email": "other@example.com"},
        headers=people.admin.auth,
    )
    assert again.status_code == 409
    assert len(client.get("/users", headers=people.admin.auth).json()) == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"username": "Bad Name", "display_name": "x", "email": "b@example.com"}, "username"),
        ({"username": "bob", "display_name": "x", "email": "not-an-email"}, "email"),
        ({"username": "bob", "display_name": "x", "email": "b@example.com", "roles": ["king"]}, "roles"),
        ({"username": "bob", "display_name": "x", "email": "b@example.com", "password": "short"}, "password"),
        ({"username": "bob", "display_name": "x", "email": "b@example.com", "manager": "nobody"}, "nobody"),
        (
            {"username": "bob", "display_name": "x", "email": "b@example.com", "isAdmin": True},
            "unknown field",
        ),
        ({"username": 5, "display_name": "x", "email": "b@example.com"}, "username"),
    ],
)
def test_bad_people_input_is_4xx_with_a_message(
    client: TestClient, people: People, body: dict[str, object], expected: str
) -> None:
    response = client.post("/users", json=body, headers=people.admin.auth)
    assert 400 <= response.status_code < 500
    assert expected in response.json()["detail"]
    assert len(client.get("/users", headers=people.admin.auth).json()) == 1


def test_admin_cannot_set_notice_or_departed_by_patch(client: TestClient, people: People) -> None:
    ann = people.add("ann")
    response = client.patch(f"/users/{ann.id}", json={"status": "departed"}, headers=people.admin.auth)
    assert response.status_code == 422


def test_api_key_is_shown_once_stored_hashed_and_authenticates(client: TestClient, people: People) -> None:
    hr = people.add("hrbot", "hr", login=False)
    created = client.post(
        f"/users/{hr.id}/api-keys", json={"name": "hr connector"}, headers=people.admin.auth
    )
    assert created.status_code == 201
    key = created.json()["key"]
    me = client.get("/me", headers={"Authorization": f"ApiKey {key}"})
    assert me.status_code == 200
    assert me.json()["username"] == "hrbot"
    with people.runtime.db.read() as session:
        stored = session.execute(
            select(AuditEntry.body).where(AuditEntry.action == "apikey.create")
        ).scalar_one()
        from guard.people.models import ApiKey

        hashes = session.scalars(select(ApiKey.key_hash)).all()
    assert key not in stored
    assert key not in hashes
    client.patch(f"/users/{hr.id}", json={"status": "suspended"}, headers=people.admin.auth)
    assert client.get("/me", headers={"Authorization": f"ApiKey {key}"}).status_code == 401
