"""Resignation -> notice -> departure, termination and withdrawal, end to end through the real API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from guard.access.models import AccessRequest
from guard.cli.main import app
from guard.clock import FixedClock
from guard.customers.models import Customer
from guard.documents.models import Document
from guard.hr.departure import sweep
from guard.people.models import ApiKey, User
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.hr.helpers import Hr, audit, status_of
from tests.support.live import server_env
from tests.support.people import PASSWORD, People, Person

# START is Monday 2026-03-02 09:00 UTC; HR's dates are UTC days ending at 18:00 (the defaults).
NOTICE = {"type": "resignation", "notice_date": "2026-03-02", "last_working_date": "2026-03-06"}


class Team:
    """Ann (a rep who also keeps documents) with her manager, successor, a colleague keeping documents of
    her customer, and the security team."""

    def __init__(self, broker: Broker, people: People) -> None:
        self.mia = broker.person("mia")  # manager
        self.sam = broker.person("sam")  # successor
        self.sec = broker.person("sec", "security")
        self.kim = broker.person("kim", "custodian")
        self.ann = people.add("ann", "staff", "custodian", manager="mia")
        broker.accept(self.ann)
        self.customer = broker.customer(self.ann, name="Acme")
        self.plan = broker.upload(self.customer, title="Account plan", custodian="kim")
        self.notes = broker.upload(self.customer, title="Visit notes", custodian="ann")
        self.prices = broker.upload(self.customer, title="Price list", custodian="kim")
        self.secret = broker.upload(self.customer, title="Contract", classification="restricted")


def notifications(client: TestClient, person: Person) -> list[dict[str, Any]]:
    response = client.get("/notifications", headers=person.auth)
    assert response.status_code == 200
    return list(response.json())


def owner_and_custodians(runtime: Runtime, team: Team) -> tuple[str, dict[str, str]]:
    with runtime.db.read() as session:
        owner = session.scalar(
            select(User.username)
            .join(Customer, Customer.owner_id == User.id)
            .where(Customer.id == team.customer)
        )
        rows = session.execute(
            select(Document.title, User.username).join(User, User.id == Document.custodian_id)
        )
        keepers = {title: username for title, username in rows}
    return str(owner), keepers


def test_notice_profile_then_access_ends_on_time_and_the_sweep_hands_everything_over(
    client: TestClient, broker: Broker, hr: Hr, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    team = Team(broker, people)
    ann = team.ann
    assert broker.ask(ann, team.plan)["status"] == "granted"  # an ordinary look before notice

    result = hr.event(employee="ann", successor="sam", **NOTICE)
    assert result["status"] == "notice"
    assert {"status:notice", "watchlist:opened"} <= set(result["applied"])

    # The notice profile applies from the very next request: no downloads, one view per document.
    download = broker.ask(ann, team.prices, "download")
    assert (download["status"], download["rule"]) == ("denied", "notice_profile")
    assert broker.ask(ann, team.plan)["status"] == "denied"  # her one view of it is used
    first_look = broker.ask(ann, team.prices)
    assert (first_look["status"], first_look["views_left"]) == ("granted", 0)
    assert broker.ask(ann, team.secret)["status"] == "pending"  # restricted: waits for an approver

    # Everyone who needs to know was told.
    for person, audience in ((team.mia, "manager"), (team.sam, "successor"), (team.kim, "custodian")):
        notes = [n for n in notifications(client, person) if n["kind"] == "hr.notice"]
        assert [n["data"]["audience"] for n in notes] == [audience]
    assert [n["data"]["user"] for n in notifications(client, team.sec) if n["kind"] == "hr.notice"] == ["ann"]
    assert [e["user"] for e in hr.get("/hr/watchlist", by=team.sec)] == ["ann"]

    # The successor works through the handover checklist; nobody else may tick it.
    [handover] = client.get("/handovers", headers=team.sam.auth).json()
    assert handover["leaver"] == "ann"
    assert handover["recipient"] == "sam"
    items = {(i["kind"], i["label"]): i["id"] for i in handover["items"]}
    assert set(items) == {("customer", "Acme"), ("document", "Visit notes")}
    path = f"/handovers/{handover['id']}/items/{items[('customer', 'Acme')]}/ack"
    for outsider in (team.kim, ann):
        assert client.post(path, json={"note": "x"}, headers=outsider.auth).status_code == 403
    acked = client.post(path, json={"note": "met the buyer"}, headers=team.sam.auth)
    assert acked.status_code == 200
    assert acked.json()["acknowledged"] == 1
    assert client.get(f"/handovers/{handover['id']}", headers=team.kim.auth).status_code == 403
    assert client.get(f"/handovers/{handover['id']}", headers=team.mia.auth).json()["acknowledged"] == 1

    # Friday 17:55 she still works (fresh tokens for everyone: the old ones have long expired) ...
    clock.advance(timedelta(days=4, hours=8, minutes=55))
    ann, sec, sam = (people.login(name) for name in ("ann", "sec", "sam"))
    assert client.get("/me", headers=ann.auth).status_code == 200
    # ... and at 18:00 her access ends, before any sweep has run, with her token still unexpired.
    clock.advance(timedelta(minutes=5))
    refused = client.get("/me", headers=ann.auth)
    assert refused.status_code == 401
    assert "not active" in refused.json()["detail"]
    assert broker.ask_response(ann, team.prices).status_code == 401
    assert client.post("/auth/login", json={"username": "ann", "password": PASSWORD}).status_code == 401
    assert owner_and_custodians(runtime, team)[0] == "ann"  # nothing handed over yet
    [scheduled] = hr.get("/hr/departures", by=sec)
    assert scheduled["state"] == "scheduled"

    outcome = sweep(read=runtime.db.read, write=runtime.db.write, hr=runtime.settings.hr, now=clock.now())
    assert outcome.departed == ["ann"]
    assert (
        sweep(read=runtime.db.read, write=runtime.db.write, hr=runtime.settings.hr, now=clock.now()).departed
        == []
    )
    owner, keepers = owner_and_custodians(runtime, team)
    assert owner == "sam"
    assert keepers == {"Account plan": "kim", "Visit notes": "sam", "Price list": "kim", "Contract": "writer"}
    handed_over = [
        (e["action"], e["target"], e["payload"]) for e in audit(runtime) if "transfer" in e["action"]
    ]
    assert handed_over == [
        ("customer.transfer", "user:ann", {"customer_ids": [team.customer], "to": "sam"}),
        ("document.custody_transfer", "user:ann", {"document_ids": [team.notes], "to": "sam"}),
    ]
    assert status_of(client, people, "ann") == "departed"
    with runtime.db.read() as session:
        requests = {r.id: r for r in session.scalars(select(AccessRequest))}
    assert requests[first_look["id"]].revoked_at is not None  # granted, never collected: void
    assert [r.status for r in requests.values() if r.rule == "approval_required"] == ["cancelled"]
    assert [e["payload"]["note"] for e in audit(runtime, "access.cancel")] == ["the requester has departed"]

    [departed] = hr.get("/hr/departures", by=sec)
    assert departed["state"] == "departed"
    assert departed["recipient"] == "sam"
    assert departed["handover"]["status"] == "closed"
    assert (departed["handover"]["items"], departed["handover"]["acknowledged"]) == (2, 1)
    assert departed["handover"]["unacknowledged"] == [
        {"kind": "document", "id": team.notes, "label": "Visit notes"}
    ]
    assert departed["exposure"]["customers"] == 1
    assert departed["exposure"]["denied"] == 2
    assert hr.get("/hr/watchlist", by=sec) == []
    assert [e["target"] for e in audit(runtime, "hr.departed")] == ["user:ann"]
    closed = client.post(
        path.replace(items[("customer", "Acme")], items[("document", "Visit notes")]), headers=sam.auth
    )
    assert closed.status_code == 409


def test_termination_takes_effect_at_once_and_hands_over_to_the_manager(
    client: TestClient, broker: Broker, hr: Hr, people: People, runtime: Runtime
) -> None:
    team = Team(broker, people)
    key = client.post(f"/users/{team.ann.id}/api-keys", json={"name": "script"}, headers=people.admin.auth)
    ann_key = {"Authorization": f"ApiKey {key.json()['key']}"}
    assert client.get("/me", headers=ann_key).status_code == 200

    result = hr.event(employee="ann", type="termination")
    assert result["status"] == "departed"
    assert "archived" in result["applied"]
    assert client.get("/me", headers=team.ann.auth).status_code == 401
    assert client.get("/me", headers=ann_key).status_code == 401
    refreshed = client.post("/auth/refresh", json={"refresh_token": team.ann.refresh_token})
    assert refreshed.status_code == 401
    with runtime.db.read() as session:
        assert session.scalars(select(ApiKey.revoked_at)).one() is not None
    owner, keepers = owner_and_custodians(runtime, team)
    assert owner == "mia"  # no successor named: the manager takes over
    assert keepers["Visit notes"] == "mia"
    [departed] = hr.get("/hr/departures")
    assert (departed["type"], departed["state"], departed["recipient"]) == ("termination", "departed", "mia")
    assert [n["kind"] for n in notifications(client, team.mia)] == ["hr.departed"]


def test_a_resignation_whose_last_day_is_over_departs_at_once(
    client: TestClient, broker: Broker, hr: Hr, people: People
) -> None:
    team = Team(broker, people)
    result = hr.event(
        employee="ann",
        type="resignation",
        notice_date="2026-02-02",
        last_working_date="2026-02-27",
        successor="sam",
    )
    assert result["status"] == "departed"
    assert client.get("/me", headers=team.ann.auth).status_code == 401
    assert hr.get("/hr/departures")[0]["recipient"] == "sam"


def test_a_withdrawal_restores_the_person_and_closes_the_watchlist_entry(
    client: TestClient, broker: Broker, hr: Hr, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    team = Team(broker, people)
    hr.event(employee="ann", successor="sam", **NOTICE)
    assert broker.ask(team.ann, team.prices, "download")["status"] == "denied"
    clock.advance(timedelta(days=1))

    result = hr.event(employee="ann", type="withdrawal")
    assert result["status"] == "active"
    assert {"status:active", "access_ends:cleared", "watchlist:closed"} <= set(result["applied"])
    assert broker.ask(people.login("ann"), team.prices, "download")["status"] == "granted"
    [entry] = hr.get("/hr/watchlist", closed=True)
    assert entry["close_reason"] == "withdrawn"
    assert hr.get("/hr/watchlist") == []
    [handover] = client.get("/handovers", headers=people.login("sam").auth).json()
    assert handover["status"] == "cancelled"
    assert [n["kind"] for n in notifications(client, people.login("sam"))] == ["hr.withdrawal", "hr.notice"]
    [departure] = hr.get("/hr/departures")
    assert departure["state"] == "withdrawn"

    # Well past the old last day she still works, and the sweeper leaves her alone.
    clock.advance(timedelta(days=10))
    assert client.get("/me", headers=people.login("ann").auth).status_code == 200
    assert (
        sweep(read=runtime.db.read, write=runtime.db.write, hr=runtime.settings.hr, now=clock.now()).departed
        == []
    )
    assert status_of(client, people, "ann") == "active"
    assert owner_and_custodians(runtime, team)[0] == "ann"
    # A withdrawal after the last working day is refused: the person has left.
    hr.event(employee="ann", type="resignation", notice_date="2026-03-13", last_working_date="2026-03-13")
    clock.advance(timedelta(days=2))
    late = hr.send(employee="ann", type="withdrawal")
    assert late.status_code == 422
    assert "only be withdrawn before" in late.json()["detail"]


def test_the_successor_can_be_changed_during_notice(
    client: TestClient, broker: Broker, hr: Hr, people: People
) -> None:
    team = Team(broker, people)
    hr.event(employee="ann", **NOTICE)
    [handover] = client.get("/handovers", headers=team.mia.auth).json()
    assert handover["recipient"] == "mia"  # no successor yet: the manager
    changed = hr.event(employee="ann", successor="sam", **NOTICE)
    assert "successor:sam" in changed["applied"]
    [handover] = client.get("/handovers", headers=team.sam.auth).json()
    assert handover["recipient"] == "sam"


def test_guard_hr_sweep_applies_due_departures_by_hand(
    client: TestClient, broker: Broker, hr: Hr, people: People, runtime: Runtime
) -> None:
    team = Team(broker, people)
    hr.event(employee="ann", successor="sam", **NOTICE)
    env = {
        k: v
        for k, v in server_env(runtime.settings.home, runtime.settings.sqlalchemy_url).items()
        if k.startswith("GUARD_")
    }
    # The command reads the real clock, long after this test's Friday 6 March 2026.
    result = CliRunner().invoke(app, ["hr", "sweep"], env=env)
    assert result.exit_code == 0, result.output
    assert "departed ann" in result.stdout
    assert owner_and_custodians(runtime, team)[0] == "sam"
    again = CliRunner().invoke(app, ["hr", "sweep"], env=env)
    assert "0 departures applied" in again.stdout
    assert [e["actor"] for e in audit(runtime, "hr.departed")] == ["cli"]
