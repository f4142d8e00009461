"""Malformed, oversized and unexpected requests get a clear 4xx, never a 500."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.support.live import run_guard
from tests.support.people import People


def test_malformed_json_is_400(client: TestClient, people: People) -> None:
    response = client.post(
        "/users", content=b'{"username": ', headers={**people.admin.auth, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_wrong_types_are_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/auth/login", json={"username": ["a"], "password": 3})
    assert response.status_code == 422
    assert "username" in response.json()["detail"]


def test_oversized_body_is_413(client: TestClient, people: People) -> None:
    huge = {"username": "x" * 2_000_000, "password": "y"}
    response = client.post("/auth/login", json=huge)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_unknown_path_and_method_are_json_4xx(client: TestClient) -> None:
    assert client.get("/nope").json() == {"detail": "no such endpoint"}
    assert client.delete("/healthz").status_code == 405


def test_operations_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "audit_write": "ok", "keys": "ok", "master_key": "ok", "disk": "ok"},
    }
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'guard_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in metrics.text


def test_serve_does_not_start_while_the_database_is_gone(guard_home: Path) -> None:
    """The signing keys live in the database: without it there is nothing to check a token with."""
    nobody_listens = "postgresql+psycopg://guard@127.0.0.1:9/guard?connect_timeout=2"
    gone = run_guard(guard_home, nobody_listens, "serve", "--port", "1")
    assert gone.returncode == 1
    assert "the database is not available" in gone.stderr
    assert "Traceback" not in gone.stderr
