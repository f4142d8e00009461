"""Approvals: separation of duties, distinct approvers, the requester collecting the token, expiry."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from guard.access.approvals import expire_overdue
from guard.access.background import expiry_job
from guard.clock import FixedClock
from guard.db import transaction
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.broker.test_access import audit
from tests.support.people import Person


def test_self_approval_is_refused_with_the_reason(broker: Broker, runtime: Runtime) -> None:
    boss = broker.person("boss", "approver")
    document = broker.upload(broker.customer(boss), classification="confidential")
    pending = broker.ask(boss, document, "download")
    assert pending["status"] == "pending"
    refused = broker.decide(boss, pending["id"])
    assert refused.status_code == 403
    assert "your own request" in refused.json()["detail"]
    assert broker.decide(boss, pending["id"], "reject").status_code == 403
    [attempt, _] = audit(runtime, "access.approve_refused") + audit(runtime, "access.reject_refused")
    assert attempt["actor"] == "boss"
    listed = broker.client.get("/access-requests?status=pending", headers=boss.auth).json()
    assert [r["id"] for r in listed] == [pending["id"]]  # still pending


def test_staff_and_the_author_may_not_approve(broker: Broker) -> None:
    ann, bob = broker.person("ann"), broker.person("bob")
    writer = broker.person("scribe", "author", "approver")
    document = broker.upload(broker.customer(ann), by=writer, classification="confidential")
    pending = broker.ask(ann, document, "download")
    no_role = broker.decide(bob, pending["id"])
    assert no_role.status_code == 403
    assert "roles" in no_role.json()["detail"]
    author = broker.decide(writer, pending["id"])
    assert author.status_code == 403
    assert "author" in author.json()["detail"]


def test_approved_request_token_goes_to_the_requester_only(
    broker: Broker, runtime: Runtime, client: TestClient
) -> None:
    ann, boss = broker.person("ann"), broker.person("boss", "approver")
    document = broker.upload(broker.customer(ann), classification="confidential", content=b"secret terms\n")
    pending = broker.ask(ann, document, "download")
    approved = broker.decide(boss, pending["id"], note="needed for the renewal")
    assert approved.status_code == 200
    body = approved.json()
    assert (body["status"], body["approvals"], body["content_token"]) == ("granted", 1, None)
    seen_by_boss = client.get(f"/access-requests/{pending['id']}", headers=boss.auth).json()
    assert seen_by_boss["status"] == "granted"
    assert seen_by_boss["content_token"] is None
    mine = client.get(f"/access-requests/{pending['id']}", headers=ann.auth).json()
    assert mine["content_token"]
    delivered = client.get(f"/content/{mine['content_token']}")
    assert delivered.status_code == 200
    assert delivered.content.startswith(b"secret terms\n")
    assert "attachment" in delivered.headers["content-disposition"]
    [step] = audit(runtime, "access.approve")
    assert (step["actor"], step["decision"], step["approvals"], step["note"]) == (
        "boss",
        "granted",
        1,
        "needed for the renewal",
    )
    again = client.get(f"/access-requests/{pending['id']}", headers=ann.auth).json()
    assert again["content_token"] is None  # collected: no new token
    other = broker.person("eve")
    assert client.get(f"/access-requests/{pending['id']}", headers=other.auth).status_code == 404


def test_restricted_needs_two_distinct_approvers(broker: Broker, runtime: Runtime) -> None:
    ann = broker.person("ann")
    first, second = broker.person("alice", "approver"), broker.person("carol", "approver")
    document = broker.upload(broker.customer(ann), classification="restricted")
    pending = broker.ask(ann, document)
    assert pending["approvals_required"] == 2
    one = broker.decide(first, pending["id"]).json()
    assert (one["status"], one["approvals"]) == ("pending", 1)
    twice = broker.decide(first, pending["id"])
    assert twice.status_code == 409
    two = broker.decide(second, pending["id"]).json()
    assert (two["status"], two["approvals"]) == ("granted", 2)
    assert [s["decision"] for s in audit(runtime, "access.approve")] == ["pending", "granted"]
    # A decided request cannot be decided again.
    assert broker.decide(broker.person("dave", "approver"), pending["id"]).status_code == 409


def test_reject_ends_the_request(broker: Broker, runtime: Runtime) -> None:
    ann, boss = broker.person("ann"), broker.person("boss", "approver")
    document = broker.upload(broker.customer(ann), classification="confidential")
    pending = broker.ask(ann, document, "download")
    rejected = broker.decide(boss, pending["id"], "reject", note="not for this deal")
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert audit(runtime, "access.reject")[0]["note"] == "not for this deal"
    mine = broker.client.get(f"/access-requests/{pending['id']}", headers=ann.auth).json()
    assert (mine["status"], mine["content_token"]) == ("rejected", None)


def test_requester_may_cancel_their_pending_request(broker: Broker, runtime: Runtime) -> None:
    ann, bob = broker.person("ann"), broker.person("bob")
    document = broker.upload(broker.customer(ann), classification="confidential")
    pending = broker.ask(ann, document, "download")
    assert broker.decide(bob, pending["id"], "cancel").status_code == 404
    cancelled = broker.decide(ann, pending["id"], "cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert audit(runtime, "access.cancel")[0]["actor"] == "ann"


def test_pending_requests_expire_lazily_and_by_the_job(
    broker: Broker, runtime: Runtime, clock: FixedClock
) -> None:
    ann, boss = broker.person("ann"), broker.person("boss", "approver")
    customer = broker.customer(ann)
    first = broker.ask(ann, broker.upload(customer, classification="confidential"), "download")
    second = broker.ask(ann, broker.upload(customer, classification="confidential"), "download")
    clock.advance(timedelta(hours=72, seconds=1))
    boss = broker.people.login("boss")  # access tokens last minutes
    late = broker.decide(boss, first["id"])
    assert late.status_code == 409
    assert "expired" in late.json()["detail"]
    job = expiry_job(runtime)  # what `guard serve` runs in the leader worker
    assert job.leader_only
    job.run()  # expires the second one
    with transaction(runtime.db.read) as session:
        assert expire_overdue(session=session, now=clock.now()) == 0  # nothing left
    statuses = {r["id"]: r["status"] for r in broker.client.get("/access-requests", headers=boss.auth).json()}
    assert statuses == {first["id"]: "expired", second["id"]: "expired"}
    assert [e["request_id"] for e in audit(runtime, "access.expire")] == [first["id"], second["id"]]


def test_listing_mine_and_everyone(broker: Broker) -> None:
    ann, bob, boss = broker.person("ann"), broker.person("bob"), broker.person("boss", "approver")
    document = broker.upload(broker.customer(ann), classification="public")
    broker.ask(ann, document)
    broker.ask(bob, document)

    def names(who: Person, query: str = "") -> list[str]:
        answer = broker.client.get(f"/access-requests{query}", headers=who.auth)
        return [r["requester"] for r in answer.json()]

    assert names(ann) == ["ann"]
    assert sorted(names(boss)) == ["ann", "bob"]
    assert names(boss, "?mine=true") == []
    assert broker.client.get("/access-requests?status=bogus", headers=boss.auth).status_code == 422
