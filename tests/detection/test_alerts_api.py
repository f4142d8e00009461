"""GET /alerts and acknowledging / resolving them: security role only, every change audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from guard.clock import FixedClock
from guard.runtime import Runtime
from tests.detection.helpers import access, add_entries, audit_actions, engine_for
from tests.support.people import People, Person


@pytest.fixture
def raised(runtime: Runtime, clock: FixedClock) -> None:
    """Three alerts: ann's honeytoken (critical), bob's honeytoken (critical), ann's denials (medium)."""
    now = clock.now()
    add_entries(runtime, [access("ann", now, honeytoken=True), access("bob", now, honeytoken=True)])
    add_entries(
        runtime,
        [access("ann", now + timedelta(minutes=i), decision="denied", document=f"x{i}") for i in range(5)],
    )
    engine_for(runtime).run_once()


@pytest.fixture
def sec(people: People) -> Person:
    return people.add("sec", "security")


@pytest.mark.usefixtures("raised")
def test_list_and_filter_alerts(client: TestClient, sec: Person) -> None:
    every = client.get("/alerts", headers=sec.auth).json()
    assert sorted((a["rule"], a["user"]) for a in every) == [
        ("denied-burst", "ann"),
        ("honeytoken", "ann"),
        ("honeytoken", "bob"),
    ]
    first = every[0]
    assert set(first) >= {"id", "rule", "severity", "user", "status", "summary", "evidence", "created_at"}
    critical = client.get("/alerts", params={"severity": "critical"}, headers=sec.auth).json()
    assert {a["user"] for a in critical} == {"ann", "bob"}
    anns = client.get("/alerts", params={"user": "ann"}, headers=sec.auth).json()
    assert {a["rule"] for a in anns} == {"honeytoken", "denied-burst"}
    burst = next(a for a in anns if a["rule"] == "denied-burst")
    assert burst["observed"] == 5
    assert burst["threshold"] == 5
    assert burst["window_seconds"] == 600
    assert len(burst["evidence"]) == 5
    assert client.get("/alerts", params={"status": "resolved"}, headers=sec.auth).json() == []
    assert client.get(f"/alerts/{burst['id']}", headers=sec.auth).json()["summary"] == burst["summary"]


@pytest.mark.usefixtures("raised")
def test_acknowledge_then_resolve_with_a_verdict(client: TestClient, sec: Person, runtime: Runtime) -> None:
    alert = client.get("/alerts", params={"user": "bob"}, headers=sec.auth).json()[0]
    acked = client.post(f"/alerts/{alert['id']}/ack", json={"note": "calling bob"}, headers=sec.auth)
    assert acked.status_code == 200
    assert (acked.json()["status"], acked.json()["acknowledged_by"]) == ("acknowledged", "sec")
    again = client.post(f"/alerts/{alert['id']}/ack", json={"note": "twice"}, headers=sec.auth)
    assert again.status_code == 409
    done = client.post(
        f"/alerts/{alert['id']}/resolve",
        json={"note": "test document opened by mistake", "verdict": "false_positive"},
        headers=sec.auth,
    )
    assert done.status_code == 200
    body = done.json()
    assert (body["status"], body["verdict"], body["resolved_by"]) == ("resolved", "false_positive", "sec")
    assert (
        client.post(f"/alerts/{alert['id']}/resolve", json={"note": "x"}, headers=sec.auth).status_code == 409
    )
    assert [
        a["id"] for a in client.get("/alerts", params={"status": "resolved"}, headers=sec.auth).json()
    ] == [alert["id"]]
    assert audit_actions(runtime, "alert.") == ["alert.acknowledge", "alert.resolve"]


@pytest.mark.usefixtures("raised")
def test_an_open_alert_can_be_resolved_directly(client: TestClient, sec: Person) -> None:
    alert = client.get("/alerts", params={"user": "ann", "severity": "medium"}, headers=sec.auth).json()[0]
    done = client.post(
        f"/alerts/{alert['id']}/resolve",
        json={"note": "confirmed", "verdict": "true_positive"},
        headers=sec.auth,
    )
    assert done.json()["status"] == "resolved"


@pytest.mark.usefixtures("raised")
@pytest.mark.parametrize(
    "body",
    [{}, {"note": ""}, {"note": "ok", "verdict": "maybe"}, {"note": "ok", "extra": 1}],
    ids=["no-note", "empty-note", "bad-verdict", "unknown-field"],
)
def test_bad_changes_are_422_and_change_nothing(
    client: TestClient, sec: Person, body: dict[str, object]
) -> None:
    alert = client.get("/alerts", headers=sec.auth).json()[0]
    response = client.post(f"/alerts/{alert['id']}/ack", json=body, headers=sec.auth)
    assert response.status_code == 422
    assert response.json()["detail"]
    assert client.get(f"/alerts/{alert['id']}", headers=sec.auth).json()["status"] == "open"


def test_unknown_alert_is_404(client: TestClient, sec: Person) -> None:
    assert client.post("/alerts/nope/ack", json={"note": "x"}, headers=sec.auth).status_code == 404
    assert client.get("/alerts/nope", headers=sec.auth).status_code == 404


def test_alerts_need_the_security_role(client: TestClient, people: People) -> None:
    staff = people.add("ann")
    assert client.get("/alerts", headers=staff.auth).status_code == 403
    assert client.post("/alerts/x/ack", json={"note": "x"}, headers=staff.auth).status_code == 403
    assert client.get("/alerts").status_code == 401
    assert (
        client.get(
            "/alerts", params={"severity": "urgent"}, headers=people.add("sec", "security").auth
        ).status_code
        == 422
    )
