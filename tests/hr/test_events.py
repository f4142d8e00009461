"""POST /hr/events: who may send, what is refused (and then changes nothing), applying once, the audit."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guard.clock import FixedClock
from guard.notifications.models import Notification
from guard.runtime import Runtime
from tests.hr.helpers import Hr, audit, counts, status_of
from tests.support.people import People

RESIGN = {"type": "resignation", "notice_date": "2026-03-02", "last_working_date": "2026-03-20"}


def test_only_hr_may_send_events(hr: Hr, people: People, runtime: Runtime) -> None:
    people.add("ann")
    for roles in (("staff",), ("security",), ("admin",), ("approver", "custodian")):
        outsider = people.add(f"not-hr-{len(roles)}{roles[0]}", *roles)
        before = counts(runtime)
        response = hr.send(by=outsider, employee="ann", **RESIGN)
        assert response.status_code == 403, roles
        assert "hr" in response.json()["detail"]
        assert counts(runtime) == before
    assert status_of(hr.client, people, "ann") == "active"


def test_an_api_key_of_an_hr_account_may_send_events(
    client: TestClient, hr: Hr, people: People, runtime: Runtime
) -> None:
    people.add("ann")
    system = people.add("workday", "hr", login=False)
    key = client.post(
        f"/users/{system.id}/api-keys", json={"name": "HR connector"}, headers=people.admin.auth
    )
    headers = {"Authorization": f"ApiKey {key.json()['key']}"}
    response = client.post("/hr/events", json={"employee": "ann@example.com", **RESIGN}, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "notice"
    assert audit(runtime, "hr.resignation")[0]["actor"] == "workday"
    # An API key of a non-HR account is refused like any other non-HR caller.
    robot = people.add("robot", "staff", login=False)
    other = client.post(f"/users/{robot.id}/api-keys", json={"name": "crm"}, headers=people.admin.auth)
    refused = client.post(
        "/hr/events",
        json={"employee": "ann", "type": "withdrawal"},
        headers={"Authorization": f"ApiKey {other.json()['key']}"},
    )
    assert refused.status_code == 403


def test_employee_is_named_by_username_email_or_employee_id(hr: Hr, people: People) -> None:
    people.add("ann", employee_id="E-100")
    people.add("bob")
    people.add("cat")
    assert hr.event(employee="E-100", **RESIGN)["employee"] == "ann"
    assert hr.event(employee="BOB@example.com", **RESIGN)["employee"] == "bob"
    assert hr.event(employee="cat", **RESIGN)["employee"] == "cat"


INVALID = [
    ({"employee": "ghost", **RESIGN}, "unknown employee"),
    ({"employee": "ann", "successor": "nobody-here", **RESIGN}, "unknown successor"),
    ({"employee": "ann", "successor": "ann", **RESIGN}, "successor cannot be the person"),
    ({"employee": "ann", "successor": "sid", **RESIGN}, "successor sid is suspended"),
    (
        {
            "employee": "ann",
            "type": "resignation",
            "notice_date": "2026-03-10",
            "last_working_date": "2026-03-09",
        },
        "before notice_date",
    ),
    ({"employee": "ann", "type": "resignation", "notice_date": "2026-03-02"}, "needs last_working_date"),
    ({"employee": "ann", "type": "withdrawal"}, "no open resignation"),
    ({"employee": "ann", "type": "retirement"}, "type"),
    (
        {"employee": "ann", "type": "resignation", "last_working_date": "20th of March"},
        "last_working_date",
    ),
    ({"employee": "ann", "colour": "blue", **RESIGN}, "unknown field"),
]


def test_invalid_events_are_422_and_change_nothing(hr: Hr, people: People, runtime: Runtime) -> None:
    people.add("ann")
    sid = people.add("sid")
    hr.client.patch(f"/users/{sid.id}", json={"status": "suspended"}, headers=people.admin.auth)
    hr.officer  # noqa: B018 - created before counting
    for body, expected in INVALID:
        before = counts(runtime)
        response = hr.send(**body)
        assert response.status_code == 422, (body, response.text)
        assert expected in response.json()["detail"], body
        assert counts(runtime) == before, body
    assert status_of(hr.client, people, "ann") == "active"


def test_the_same_idempotency_key_applies_once(hr: Hr, people: People, runtime: Runtime) -> None:
    people.add("ann")
    first = hr.event(employee="ann", idempotency_key="wd-7781", **RESIGN)
    assert first["applied"]
    assert not first["duplicate"]
    again = hr.event(employee="ann", idempotency_key="wd-7781", **RESIGN)
    assert again["id"] == first["id"]
    assert again["applied"] == []
    assert again["duplicate"] is True
    assert len(audit(runtime, "hr.resignation")) == 1
    # The key names that event: reusing it for something else is a conflict, not a silent no-op.
    clash = hr.send(employee="ann", idempotency_key="wd-7781", type="termination")
    assert clash.status_code == 409
    assert status_of(hr.client, people, "ann") == "notice"


def test_the_same_event_twice_applies_once_even_without_a_key(
    hr: Hr, people: People, runtime: Runtime
) -> None:
    people.add("ann")
    first = hr.event(employee="ann", **RESIGN)
    second = hr.event(employee="ann@example.com", **RESIGN)  # named differently, same person and dates
    assert second["id"] == first["id"]
    assert second["duplicate"] is True
    assert second["applied"] == []
    with runtime.db.read() as session:
        notes = session.scalar(select(func.count()).select_from(Notification))
    third = hr.event(employee="ann", **RESIGN)
    assert third["id"] == first["id"]
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == notes  # nobody told twice
    assert counts(runtime)["events"] == 1
    assert counts(runtime)["departures"] == 1


def test_a_changed_last_working_day_is_applied_as_an_update(
    hr: Hr, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    ann = people.add("ann")
    hr.event(employee="ann", **RESIGN)
    changed = hr.event(employee="ann", **{**RESIGN, "last_working_date": "2026-03-06"})
    assert changed["duplicate"] is False
    assert any(a.startswith("access_ends:2026-03-06T18:00") for a in changed["applied"])
    clock.advance(timedelta(days=4, hours=9, minutes=1))  # Friday 18:01
    assert hr.client.get("/me", headers=ann.auth).status_code == 401


def test_every_event_is_audited_with_the_person_as_target(hr: Hr, people: People, runtime: Runtime) -> None:
    people.add("ann")
    people.add("bob")
    hr.event(employee="ann", successor="bob", **RESIGN)
    hr.event(employee="ann", type="withdrawal")
    hr.event(employee="ann", type="termination")
    entries = [e for e in audit(runtime) if e["action"].startswith("hr.")]
    assert [(e["action"], e["target"], e["actor"]) for e in entries] == [
        ("hr.resignation", "user:ann", "helen"),
        ("hr.withdrawal", "user:ann", "helen"),
        ("hr.termination", "user:ann", "helen"),
        ("hr.departed", "user:ann", "helen"),
    ]
    first = entries[0]["payload"]
    assert first["successor"] == "bob"
    assert first["last_working_date"] == "2026-03-20"
    assert "status:notice" in first["applied"]


def test_events_about_a_departed_person_are_refused(hr: Hr, people: People, runtime: Runtime) -> None:
    people.add("ann")
    hr.event(employee="ann", type="termination")
    before = counts(runtime)
    for body in ({"type": "termination", "notice_date": "2026-03-01"}, RESIGN, {"type": "withdrawal"}):
        response = hr.send(employee="ann", **body)
        assert response.status_code == 422, response.text
    assert counts(runtime) == before
