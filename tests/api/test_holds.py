"""Lifecycle and holds are separate facts: a hold never erases a resignation, and lifting one restores
exactly what HR says the person is."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from guard.clock import FixedClock
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.broker.test_access import audit
from tests.detection.helpers import alerts, engine_for
from tests.hr.helpers import Hr
from tests.support.live import run_guard as guard
from tests.support.people import PASSWORD, People

RESIGN = {"type": "resignation", "notice_date": "2026-03-02", "last_working_date": "2026-03-20"}


def state(client: TestClient, people: People, user_id: str) -> dict[str, object]:
    body: dict[str, object] = client.get(f"/users/{user_id}", headers=people.admin.auth).json()
    return body


def test_resign_suspend_lift_leaves_the_person_on_notice_and_a_download_is_refused(
    broker: Broker, client: TestClient, people: People, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    Hr(client, people).event(employee="ann", **RESIGN)
    suspended = client.patch(
        f"/users/{ann.id}", json={"status": "suspended", "reason": "laptop lost"}, headers=people.admin.auth
    )
    assert suspended.status_code == 200, suspended.text
    body = suspended.json()
    assert (body["status"], body["lifecycle"]) == ("suspended", "notice")
    [hold] = body["holds"]
    assert (hold["kind"], hold["reason"], hold["set_by"]) == ("suspended", "laptop lost", "root")

    reactivate = client.patch(f"/users/{ann.id}", json={"status": "active"}, headers=people.admin.auth)
    assert reactivate.status_code == 409
    assert "withdrawal" in reactivate.json()["detail"]
    assert state(client, people, ann.id)["status"] == "suspended"  # the refused change changed nothing

    no_reason = client.request(
        "DELETE", f"/users/{ann.id}/holds/suspended", json={}, headers=people.admin.auth
    )
    assert no_reason.status_code == 422
    lifted = client.request(
        "DELETE",
        f"/users/{ann.id}/holds/suspended",
        json={"reason": "laptop found"},
        headers=people.admin.auth,
    )
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["status"], lifted.json()["lifecycle"], lifted.json()["holds"]) == (
        "notice",
        "notice",
        [],
    )
    ann = people.login("ann")  # the suspension ended her sessions
    download = broker.ask(ann, document, "download")
    assert (download["status"], download["rule"]) == ("denied", "notice_profile")
    [placed] = audit(runtime, "user.hold")
    [removed] = audit(runtime, "user.hold_lift")
    assert (placed["kind"], placed["lifecycle"], placed["status"]) == ("suspended", "notice", "suspended")
    assert (removed["reason"], removed["status"], removed["actor"]) == ("laptop found", "notice", "root")
    me = client.get("/me", headers=ann.auth).json()
    assert (me["status"], me["lifecycle"], me["holds"]) == ("notice", "notice", [])


def test_setting_active_on_a_person_on_notice_says_to_use_a_withdrawal(
    broker: Broker, client: TestClient, people: People
) -> None:
    ann = broker.person("ann")
    Hr(client, people).event(employee="ann", **RESIGN)
    refused = client.patch(f"/users/{ann.id}", json={"status": "active"}, headers=people.admin.auth)
    assert refused.status_code == 409
    assert "withdrawal" in refused.json()["detail"]
    assert state(client, people, ann.id)["lifecycle"] == "notice"
    listed = {u["username"]: u for u in client.get("/users", headers=people.admin.auth).json()}
    assert (listed["ann"]["status"], listed["ann"]["lifecycle"]) == ("notice", "notice")


def test_holds_stack_and_each_lifts_on_its_own(broker: Broker, client: TestClient, people: People) -> None:
    ann, sec = broker.person("ann"), broker.person("sec", "security")
    for kind in ("review", "suspended"):
        placed = client.post(
            f"/users/{ann.id}/holds", json={"kind": kind, "reason": "checking"}, headers=sec.auth
        )
        assert placed.status_code == 201, placed.text
    assert state(client, people, ann.id)["status"] == "suspended"
    staff = broker.person("bob")
    assert (
        client.post(
            f"/users/{ann.id}/holds", json={"kind": "review", "reason": "x"}, headers=staff.auth
        ).status_code
        == 403
    )
    lift = client.request(
        "DELETE", f"/users/{ann.id}/holds/suspended", json={"reason": "ok"}, headers=sec.auth
    )
    body = lift.json()
    assert (body["status"], [h["kind"] for h in body["holds"]]) == ("active", ["review"])
    again = client.request(
        "DELETE", f"/users/{ann.id}/holds/suspended", json={"reason": "ok"}, headers=sec.auth
    )
    assert again.status_code == 404
    ann = people.login("ann")
    me = client.get("/me", headers=ann.auth).json()
    assert [h["kind"] for h in me["holds"]] == ["review"]
    assert me["holds"][0]["reason"] is None  # the person on hold is not told why


def test_a_require_approval_response_sets_a_visible_review_hold_that_a_false_positive_lifts(
    broker: Broker, client: TestClient, people: People, runtime: Runtime
) -> None:
    ann, sec = broker.person("ann"), broker.person("sec", "security")
    customer = broker.customer(ann)
    decoy = broker.upload(customer, honeytoken="true", by=sec)
    ordinary = broker.upload(customer)
    broker.ask(ann, decoy)
    engine_for(runtime).run_once()
    [alert] = alerts(runtime, rule="honeytoken")
    shown = state(client, people, ann.id)
    [hold] = shown["holds"]  # type: ignore[misc]
    assert (hold["kind"], hold["alert_id"], hold["set_by"]) == ("review", alert.id, "system:detection")
    assert broker.ask(ann, ordinary)["rule"] == "review_required"
    offered = client.get(f"/alerts/{alert.id}", headers=sec.auth).json()
    assert [(h["kind"], h["lifted_at"]) for h in offered["holds"]] == [("review", None)]

    resolved = client.post(
        f"/alerts/{alert.id}/resolve",
        json={"note": "a test of the decoy by the team", "verdict": "false_positive"},
        headers=sec.auth,
    )
    assert resolved.status_code == 200, resolved.text
    [after] = resolved.json()["holds"]
    assert after["lifted_by"] == "sec"
    assert after["lifted_at"] is not None
    assert state(client, people, ann.id)["holds"] == []
    assert broker.ask(ann, ordinary)["status"] == "granted"
    [removed] = audit(runtime, "user.hold_lift")
    assert removed["alert_id"] == alert.id


def test_a_true_positive_or_an_explicit_keep_leaves_the_hold(
    broker: Broker, client: TestClient, people: People, runtime: Runtime
) -> None:
    ann, sec = broker.person("ann"), broker.person("sec", "security")
    broker.ask(ann, broker.upload(broker.customer(ann), honeytoken="true", by=sec))
    engine_for(runtime).run_once()
    [alert] = alerts(runtime, rule="honeytoken")
    kept = client.post(
        f"/alerts/{alert.id}/resolve",
        json={"note": "not sure yet", "verdict": "false_positive", "lift_holds": False},
        headers=sec.auth,
    )
    assert kept.status_code == 200
    assert [h["kind"] for h in state(client, people, ann.id)["holds"]] == ["review"]  # type: ignore[union-attr]


def test_the_cli_places_and_lifts_holds(tmp_path: Path, bare_db_url: str, clock: FixedClock) -> None:
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
    held = guard(home, bare_db_url, "users", "hold", "ann", "--kind", "review", "--reason", "checking")
    assert held.returncode == 0, held.stderr
    assert "status active" in held.stdout
    assert guard(home, bare_db_url, "users", "suspend", "ann").returncode == 0
    [ann_line] = [
        line for line in guard(home, bare_db_url, "users", "list").stdout.splitlines() if "ann@" in line
    ]
    assert ann_line.split()[:3] == ["ann", "suspended", "active"]  # status, then lifecycle
    no_reason = guard(home, bare_db_url, "users", "lift-hold", "ann", "suspended")
    assert no_reason.returncode != 0
    assert "reason" in no_reason.stdout + no_reason.stderr
    lifted = guard(home, bare_db_url, "users", "lift-hold", "ann", "suspended", "--reason", "all clear")
    assert lifted.returncode == 0, lifted.stderr
    assert "lifted 1 suspended hold(s); status active" in lifted.stdout
    unknown = guard(home, bare_db_url, "users", "lift-hold", "ann", "suspended", "--reason", "again")
    assert unknown.returncode != 0
    assert "no active suspended hold" in unknown.stderr


def test_a_hold_needs_a_reason_a_reader_can_see(client: TestClient, people: People) -> None:
    ann = people.add("ann")
    sam = people.add("sam", "security")
    for blank in ("   ", "\u200b\u200b", "\u00a0"):
        body = {"kind": "review", "reason": blank}
        refused = client.post(f"/users/{ann.id}/holds", json=body, headers=sam.auth)
        assert refused.status_code == 422, repr(blank)
    assert client.get(f"/users/{ann.id}", headers=sam.auth).json()["holds"] == []
