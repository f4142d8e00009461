"""A decision holds for its whole life: approvals decide again, grants are re-checked when collected, and a
change of state voids what it no longer allows."""

from __future__ import annotations

from fastapi.testclient import TestClient

from guard.policies.access import AccessPolicy
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.broker.test_access import audit
from tests.hr.helpers import Hr

RESIGN = {"type": "resignation", "notice_date": "2026-03-02", "last_working_date": "2026-03-20"}


def test_pending_restricted_views_approved_by_two_deliver_exactly_the_quota(
    broker: Broker, runtime: Runtime, client: TestClient
) -> None:
    ann = broker.person("ann")
    first, second = broker.person("alice", "approver"), broker.person("carol", "approver")
    document = broker.upload(broker.customer(ann), classification="restricted")
    pending = [broker.ask(ann, document) for _ in range(6)]
    assert {p["status"] for p in pending} == {"pending"}
    outcomes = []
    for request in pending:
        one = broker.decide(first, request["id"])
        if one.status_code != 200:
            outcomes.append((one.status_code, one.json().get("rule")))
            continue
        two = broker.decide(second, request["id"])
        outcomes.append((two.status_code, two.json().get("rule") if two.status_code != 200 else "granted"))
    assert outcomes[:3] == [(200, "granted")] * 3
    assert outcomes[3:] == [(409, "quota")] * 3
    statuses = [client.get(f"/access-requests/{p['id']}", headers=ann.auth).json() for p in pending]
    assert [s["status"] for s in statuses] == ["granted"] * 3 + ["denied"] * 3
    delivered = [client.get(f"/content/{s['content_token']}") for s in statuses[:3]]
    assert [d.status_code for d in delivered] == [200, 200, 200]
    assert [s["content_token"] for s in statuses[3:]] == [None] * 3
    refused = audit(runtime, "access.deny")
    assert [(r["request_id"], r["decision"]) for r in refused] == [(p["id"], "denied") for p in pending[3:]]


def test_an_over_quota_request_allows_exactly_one_look_beyond_the_quota(broker: Broker) -> None:
    ann, boss = broker.person("ann"), broker.person("boss", "approver")
    document = broker.upload(broker.customer(ann), classification="internal")
    assert [broker.ask(ann, document)["status"] for _ in range(3)] == ["granted"] * 3
    over = [broker.ask(ann, document) for _ in range(2)]
    assert [(o["status"], o["rule"]) for o in over] == [("pending", "quota")] * 2
    allowed = broker.decide(boss, over[0]["id"])
    assert (allowed.status_code, allowed.json()["status"]) == (200, "granted")
    second = broker.decide(boss, over[1]["id"])
    assert (second.status_code, second.json()["rule"]) == (409, "quota")
    assert "beyond the quota" in second.json()["detail"]


def test_a_download_approved_after_the_resignation_is_refused_at_approval(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann, boss = broker.person("ann"), broker.person("boss", "approver")
    document = broker.upload(broker.customer(ann), classification="confidential")
    pending = broker.ask(ann, document, "download")
    assert pending["status"] == "pending"
    Hr(client, broker.people).event(employee="ann", **RESIGN)
    refused = broker.decide(boss, pending["id"])
    assert (refused.status_code, refused.json()["rule"]) == (409, "notice_profile")
    mine = client.get(f"/access-requests/{pending['id']}", headers=ann.auth).json()
    assert (mine["status"], mine["rule"], mine["content_token"]) == ("denied", "notice_profile", None)


def test_a_grant_made_while_active_is_void_once_the_person_resigns(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    download = broker.ask(ann, broker.upload(customer), "download")
    view = broker.ask(ann, broker.upload(customer, title="Visit notes"))
    assert (download["status"], view["status"]) == ("granted", "granted")
    result = Hr(client, broker.people).event(employee="ann", **RESIGN)
    assert "grants:voided 1" in result["applied"]
    collected = client.get(f"/content/{download['content_token']}")
    assert collected.status_code == 410
    again = client.get(f"/access-requests/{download['id']}", headers=ann.auth).json()
    assert again["content_token"] is None
    assert again["voided_at"] is not None
    [void] = audit(runtime, "access.void")
    assert (void["request_id"], void["rule"], void["actor"]) == (download["id"], "notice_profile", "helen")
    assert client.get(f"/content/{view['content_token']}").status_code == 200  # a view is still allowed


def test_a_grant_collected_under_a_stricter_policy_is_refused_with_the_rule(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    granted = broker.ask(ann, document, "download")
    stricter = runtime.policies.current.model_dump()
    stricter["rules"]["download"]["internal"]["allowed"] = False
    previous = runtime.policies.swap(AccessPolicy.model_validate(stricter))
    try:
        refused = client.get(f"/content/{granted['content_token']}")
        assert (refused.status_code, refused.json()["rule"]) == (403, "not_allowed")
        assert client.get(f"/content/{granted['content_token']}").status_code == 410  # voided for good
        fresh = client.get(f"/access-requests/{granted['id']}", headers=ann.auth).json()
        assert fresh["content_token"] is None
    finally:
        runtime.policies.swap(previous)
    [void] = audit(runtime, "access.void")
    assert (void["request_id"], void["rule"]) == (granted["id"], "not_allowed")


def test_a_review_hold_voids_unapproved_grants_and_lifting_it_restores_direct_grants(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann, sec = broker.person("ann"), broker.person("sec", "security")
    boss = broker.person("boss", "approver")
    customer = broker.customer(ann)
    direct = broker.ask(ann, broker.upload(customer))
    approved = broker.ask(ann, broker.upload(customer, classification="confidential"), "download")
    assert broker.decide(boss, approved["id"]).json()["status"] == "granted"
    held = client.post(
        f"/users/{ann.id}/holds", json={"kind": "review", "reason": "odd pattern"}, headers=sec.auth
    )
    assert held.status_code == 201, held.text
    assert (held.json()["status"], [h["kind"] for h in held.json()["holds"]]) == ("active", ["review"])
    assert client.get(f"/content/{direct['content_token']}").status_code == 410
    collect = client.get(f"/access-requests/{approved['id']}", headers=ann.auth).json()
    assert client.get(f"/content/{collect['content_token']}").status_code == 200  # an approver signed it
    [void] = audit(runtime, "access.void")
    assert (void["request_id"], void["rule"]) == (direct["id"], "review_required")
    document = broker.upload(customer, title="Price list")
    assert (broker.ask(ann, document)["rule"]) == "review_required"
    lifted = client.request(
        "DELETE",
        f"/users/{ann.id}/holds/review",
        json={"reason": "explained by the manager"},
        headers=sec.auth,
    )
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["holds"] == []
    assert broker.ask(ann, document)["status"] == "granted"
