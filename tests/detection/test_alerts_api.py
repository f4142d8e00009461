"""The alert queue: list and page, review, assign, annotate, resolve one by one and in bulk; security role
only, every change audited, bad changes refused whole."""

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
    assert (acked.json()["status"], acked.json()["acknowledged_by"]) == ("in_review", "sec")
    assert acked.json()["assignee"] == "sec"
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
    again = client.post(
        f"/alerts/{alert['id']}/resolve", json={"note": "x", "verdict": "benign"}, headers=sec.auth
    )
    assert again.status_code == 409
    assert [(n["kind"], n["text"]) for n in body["notes"]] == [
        ("review", "calling bob"),
        ("resolve", "test document opened by mistake"),
    ]
    assert [
        a["id"] for a in client.get("/alerts", params={"status": "resolved"}, headers=sec.auth).json()
    ] == [alert["id"]]
    assert audit_actions(runtime, "alert.") == ["alert.review", "alert.resolve"]


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
    assert client.get(f"/alerts/{alert['id']}", headers=sec.auth).json()["status"] == "new"


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


@pytest.mark.usefixtures("raised")
@pytest.mark.parametrize(
    "body",
    [{"note": "done"}, {"verdict": "benign"}, {"verdict": "benign", "reason": "\u200b\u200b"}],
    ids=["no-verdict", "no-reason", "invisible-reason"],
)
def test_a_resolution_needs_a_verdict_and_a_visible_reason(
    client: TestClient, sec: Person, body: dict[str, object], runtime: Runtime
) -> None:
    alert = client.get("/alerts", headers=sec.auth).json()[0]
    response = client.post(f"/alerts/{alert['id']}/resolve", json=body, headers=sec.auth)
    assert response.status_code == 422
    assert client.get(f"/alerts/{alert['id']}", headers=sec.auth).json()["status"] == "new"
    assert audit_actions(runtime, "alert.") == []


@pytest.mark.usefixtures("raised")
def test_notes_accumulate_and_assignment_goes_to_the_security_team(
    client: TestClient, sec: Person, people: People, runtime: Runtime
) -> None:
    tess = people.add("tess", "security")
    people.add("sam")
    alert = client.get("/alerts", params={"user": "bob"}, headers=sec.auth).json()[0]
    url = f"/alerts/{alert['id']}"
    assert (
        client.post(f"{url}/notes", json={"text": "bob is on leave today"}, headers=sec.auth).status_code
        == 201
    )
    refused = client.post(f"{url}/assign", json={"assignee": "sam"}, headers=sec.auth)
    assert refused.status_code == 422
    assert "security team" in refused.json()["detail"]
    given = client.post(f"{url}/assign", json={"assignee": "tess", "note": "yours"}, headers=sec.auth)
    assert given.json()["assignee"] == "tess"
    reviewed = client.post(f"{url}/review", json={"note": "asking his manager"}, headers=tess.auth).json()
    assert (reviewed["status"], reviewed["assignee"]) == ("in_review", "tess")
    client.post(f"{url}/resolve", json={"verdict": "benign", "reason": "manager confirms"}, headers=tess.auth)
    client.post(f"{url}/notes", json={"text": "closing remark"}, headers=sec.auth)
    history = client.get(url, headers=sec.auth).json()["notes"]
    assert [(n["kind"], n["author"], n["text"]) for n in history] == [
        ("note", "sec", "bob is on leave today"),
        ("assign", "sec", "yours"),
        ("review", "tess", "asking his manager"),
        ("resolve", "tess", "manager confirms"),
        ("note", "sec", "closing remark"),
    ]
    assert client.get("/alerts", params={"assignee": "tess"}, headers=sec.auth).json()[0]["id"] == alert["id"]
    assert audit_actions(runtime, "alert.") == [
        "alert.note",
        "alert.assign",
        "alert.review",
        "alert.resolve",
        "alert.note",
    ]
    late = client.post(f"{url}/assign", json={"assignee": "sec"}, headers=sec.auth)
    assert late.status_code == 409


@pytest.mark.usefixtures("raised")
def test_bulk_resolve_by_ids_is_all_or_nothing(client: TestClient, sec: Person, runtime: Runtime) -> None:
    every = client.get("/alerts", headers=sec.auth).json()
    ids = [a["id"] for a in every]
    client.post(
        f"/alerts/{ids[0]}/resolve", json={"verdict": "true_positive", "reason": "seen"}, headers=sec.auth
    )
    body = {"action": "resolve", "ids": ids, "verdict": "benign", "reason": "training day"}
    refused = client.post("/alerts/bulk", json=body, headers=sec.auth)
    assert refused.status_code == 409
    unknown = client.post("/alerts/bulk", json={**body, "ids": [*ids[1:], "nope"]}, headers=sec.auth)
    assert unknown.status_code == 404
    statuses = {a["id"]: a["status"] for a in client.get("/alerts", headers=sec.auth).json()}
    assert statuses == {ids[0]: "resolved", ids[1]: "new", ids[2]: "new"}
    done = client.post("/alerts/bulk", json={**body, "ids": ids[1:]}, headers=sec.auth)
    assert done.status_code == 200
    assert (done.json()["changed"], sorted(done.json()["ids"])) == (2, sorted(ids[1:]))
    assert {a["verdict"] for a in client.get("/alerts", headers=sec.auth).json()} == {
        "true_positive",
        "benign",
    }
    assert audit_actions(runtime, "alert.") == ["alert.resolve"] * 3


@pytest.mark.usefixtures("raised")
def test_bulk_assign_by_filter_takes_only_the_unresolved_matches(client: TestClient, sec: Person) -> None:
    critical = client.get("/alerts", params={"severity": "critical"}, headers=sec.auth).json()
    client.post(
        f"/alerts/{critical[0]['id']}/resolve",
        json={"verdict": "false_positive", "reason": "test file"},
        headers=sec.auth,
    )
    body = {"action": "assign", "filter": {"severity": "critical"}, "assignee": "sec"}
    done = client.post("/alerts/bulk", json=body, headers=sec.auth).json()
    assert done["ids"] == [critical[1]["id"]]
    assigned = client.get("/alerts", params={"assignee": "sec"}, headers=sec.auth).json()
    assert [a["id"] for a in assigned] == [critical[1]["id"]]
    for bad in (
        {"action": "assign", "assignee": "sec"},
        {"action": "assign", "ids": [critical[1]["id"]], "filter": {}, "assignee": "sec"},
        {"action": "resolve", "ids": [critical[1]["id"]], "verdict": "benign"},
        {"action": "assign", "filter": {"colour": "red"}, "assignee": "sec"},
        {"action": "assign", "filter": {}, "assignee": "sec"},  # everything, by accident
        {"action": "assign", "ids": [], "assignee": "sec"},
    ):
        assert client.post("/alerts/bulk", json=bad, headers=sec.auth).status_code == 422, bad


def test_the_queue_pages_with_a_cursor_and_a_total(
    client: TestClient, sec: Person, runtime: Runtime, clock: FixedClock
) -> None:
    now = clock.now()
    add_entries(runtime, [access(f"p{i}", now, honeytoken=True) for i in range(7)])
    engine_for(runtime).run_once()
    seen: list[str] = []
    params: dict[str, object] = {"limit": 3, "severity": "critical"}
    pages = 0
    while True:
        response = client.get("/alerts", params=params, headers=sec.auth)
        assert response.headers["X-Total-Count"] == "7"
        seen += [a["id"] for a in response.json()]
        pages += 1
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            assert "Link" not in response.headers
            break
        assert 'rel="next"' in response.headers["Link"]
        params["cursor"] = cursor
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    every = [a["id"] for a in client.get("/alerts", headers=sec.auth).json()]
    assert seen == every
    other_filter = client.get(
        "/alerts", params={"cursor": cursor_of(client, sec), "user": "p1"}, headers=sec.auth
    )
    assert other_filter.status_code == 422
    forged = client.get("/alerts", params={"cursor": "AAAA" + cursor_of(client, sec)[4:]}, headers=sec.auth)
    assert forged.status_code == 422


def cursor_of(client: TestClient, sec: Person) -> str:
    return client.get("/alerts", params={"limit": 1}, headers=sec.auth).headers["X-Next-Cursor"]


def test_rules_count_alerts_and_false_positives(
    client: TestClient, sec: Person, runtime: Runtime, clock: FixedClock
) -> None:
    now = clock.now()
    add_entries(runtime, [access(f"p{i}", now, honeytoken=True) for i in range(4)])
    engine_for(runtime).run_once()
    ids = [a["id"] for a in client.get("/alerts", headers=sec.auth).json()]
    for alert_id, verdict in zip(ids, ("false_positive", "true_positive", "benign"), strict=False):
        client.post(
            f"/alerts/{alert_id}/resolve", json={"verdict": verdict, "reason": "checked"}, headers=sec.auth
        )
    rules = {r["name"]: r for r in client.get("/rules", headers=sec.auth).json()["rules"]}
    assert rules["honeytoken"]["alerts"] == {
        "total": 4,
        "unresolved": 1,
        "true_positive": 1,
        "false_positive": 1,
        "benign": 1,
    }
    assert rules["honeytoken"]["false_positive_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert rules["denied-burst"]["false_positive_rate"] is None
