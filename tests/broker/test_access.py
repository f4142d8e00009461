"""In-line decisions on POST /access-requests: quotas, portfolio, agreement, notice, reasons, audit."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from guard.audit.models import AuditEntry
from guard.people.models import User
from guard.runtime import Runtime
from tests.broker.helpers import Broker


def audit(runtime: Runtime, action: str) -> list[dict[str, object]]:
    with runtime.db.read() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq))
        return [{"actor": e.actor, "target": e.target, **json.loads(e.body)["payload"]} for e in rows]


def set_user(runtime: Runtime, username: str, **values: object) -> None:
    """Directly in the database; a status is also the lifecycle (the person has no holds)."""
    if "status" in values:
        values.setdefault("lifecycle", values["status"])
    with runtime.db.write() as session, session.begin():
        session.execute(update(User).where(User.username == username).values(**values))


def test_fourth_view_is_not_granted_while_another_person_still_has_three(
    broker: Broker, runtime: Runtime
) -> None:
    ann, bob = broker.person("ann"), broker.person("bob")
    document = broker.upload(broker.customer(ann), classification="internal")
    answers = [broker.ask(ann, document) for _ in range(4)]
    assert [a["status"] for a in answers] == ["granted", "granted", "granted", "pending"]
    assert [a["views_left"] for a in answers] == [2, 1, 0, 0]
    assert answers[3]["rule"] == "quota"
    assert answers[3]["content_token"] is None
    assert all(a["content_token"] for a in answers[:3])
    # Bob does not own the customer: outside the portfolio an internal document needs approval, but his
    # quota is untouched by Ann's looks.
    listed = broker.client.get("/documents", headers=bob.auth).json()
    assert [d["views_left"] for d in listed if d["id"] == document] == [3]
    assert broker.client.get(f"/documents/{document}", headers=ann.auth).json()["views_left"] == 0
    decisions = audit(runtime, "access.view")
    assert [d["decision"] for d in decisions] == ["granted", "granted", "granted", "pending"]
    assert decisions[0]["target"] == f"document:{document}"
    assert decisions[0]["actor"] == "ann"
    assert decisions[0]["in_portfolio"] is True
    assert decisions[0]["count"] == 1
    assert decisions[0]["classification"] == "internal"
    assert decisions[0]["status"] == "active"
    assert decisions[0]["client"] == "testclient"


def test_every_person_has_their_own_three_views(broker: Broker) -> None:
    ann, bob = broker.person("ann"), broker.person("bob")
    customer = broker.customer(ann)
    document = broker.upload(customer, classification="public")  # public: readable outside the portfolio
    for _ in range(3):
        assert broker.ask(ann, document)["status"] == "granted"
    assert broker.ask(ann, document)["status"] == "pending"
    assert [broker.ask(bob, document)["views_left"] for _ in range(3)] == [2, 1, 0]


def test_answer_shape_records_time_place_and_reason(broker: Broker, runtime: Runtime) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    answer = broker.ask(ann, document, place="client site, Lyon")
    assert set(answer) >= {"id", "status", "rule", "explanation", "views_left", "content_token", "expires_at"}
    assert answer["expires_at"].startswith("2026-03-02T09:01:00")  # 60 s content token
    [entry] = audit(runtime, "access.view")
    assert entry["place"] == "client site, Lyon"
    assert entry["reason"] == answer["reason"]
    assert entry["request_id"] == answer["id"]


def test_short_reason_is_422_and_records_nothing(broker: Broker, runtime: Runtime) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    response = broker.ask_response(ann, document, reason="  because  ")
    assert response.status_code == 422
    assert "reason" in response.json()["detail"]
    assert audit(runtime, "access.view") == []
    assert broker.client.get("/access-requests?mine=true", headers=ann.auth).json() == []


def test_bad_request_bodies_are_4xx(broker: Broker) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    assert broker.ask_response(ann, "0" * 32).status_code == 404
    assert broker.ask_response(ann, document, action="export").status_code == 422
    assert broker.ask_response(ann, document, colour="red").status_code == 422


def test_unaccepted_agreement_denies_and_a_new_version_needs_a_new_acceptance(
    broker: Broker, runtime: Runtime
) -> None:
    ann = broker.person("ann", accept=False)
    document = broker.upload(broker.customer(ann))
    denied = broker.ask(ann, document)
    assert (denied["status"], denied["rule"]) == ("denied", "agreement")
    assert denied["content_token"] is None
    broker.accept(ann)
    assert broker.ask(ann, document)["status"] == "granted"
    current = runtime.agreements.current
    runtime.agreements.swap(current.model_copy(update={"version": "2027-01"}))
    assert broker.ask(ann, document)["rule"] == "agreement"
    old = broker.client.post("/me/agreements", json={"version": current.version}, headers=ann.auth)
    assert old.status_code == 422
    unknown = broker.client.post("/me/agreements", json={"version": "1999"}, headers=ann.auth)
    assert unknown.status_code == 422
    broker.accept(ann)
    assert broker.ask(ann, document)["status"] == "granted"
    accepted = [e["version"] for e in audit(runtime, "agreement.accept") if e["actor"] == "ann"]
    assert accepted == [current.version, "2027-01"]


def test_outside_the_portfolio_needs_approval(broker: Broker) -> None:
    ann, bob = broker.person("ann"), broker.person("bob")
    document = broker.upload(broker.customer(ann), classification="confidential")
    answer = broker.ask(bob, document)
    assert (answer["status"], answer["rule"]) == ("pending", "outside_portfolio")
    assert answer["expires_at"] is not None  # when the pending request lapses


def test_confidential_download_and_restricted_view_need_approval(broker: Broker) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    confidential = broker.upload(customer, classification="confidential")
    restricted = broker.upload(customer, classification="restricted")
    assert broker.ask(ann, confidential)["status"] == "granted"
    download = broker.ask(ann, confidential, "download")
    assert (download["status"], download["rule"], download["approvals_required"]) == (
        "pending",
        "approval_required",
        1,
    )
    view = broker.ask(ann, restricted)
    assert (view["status"], view["approvals_required"]) == ("pending", 2)


def test_notice_profile_fewer_views_no_downloads_no_exports(broker: Broker, runtime: Runtime) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    document, other = broker.upload(customer), broker.upload(customer)
    assert broker.ask(ann, document)["status"] == "granted"
    set_user(runtime, "ann", status="notice")
    spent = broker.ask(ann, document)  # one view on notice, and it was already used
    assert (spent["status"], spent["rule"], spent["views_left"]) == ("denied", "quota", 0)
    assert broker.ask(ann, other)["status"] == "granted"
    download = broker.ask(ann, other, "download")
    assert (download["status"], download["rule"]) == ("denied", "notice_profile")
    export = broker.export(ann, [document, other])
    assert export.status_code == 201
    assert (export.json()["status"], export.json()["rule"]) == ("denied", "notice_profile")
    assert audit(runtime, "access.export")[0]["status"] == "notice"


def test_detection_hold_makes_everything_pending(broker: Broker, runtime: Runtime) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    set_user(runtime, "ann", approval_required_reason="bulk pulling before resignation")
    answer = broker.ask(ann, document)
    assert (answer["status"], answer["rule"]) == ("pending", "review_required")
    assert "resignation" not in answer["explanation"]  # the reader is not told what detection saw


def test_honeytoken_is_granted_like_any_document_and_recorded(
    broker: Broker, runtime: Runtime, client: TestClient
) -> None:
    ann, sec = broker.person("ann"), broker.person("sec", "security")
    customer = broker.customer(ann)
    bait = broker.upload(customer, by=sec, title="Price list 2026", honeytoken="true")
    plain = broker.upload(customer, title="Price list 2025")
    answers = [broker.ask(ann, bait), broker.ask(ann, plain)]
    assert [a["status"] for a in answers] == ["granted", "granted"]
    assert answers[0]["explanation"] == answers[1]["explanation"]
    listed = {d["id"]: d for d in client.get("/documents", headers=ann.auth).json()}
    assert listed[bait]["honeytoken"] is None
    assert listed[plain]["honeytoken"] is None
    seen_by_security = {d["id"]: d for d in client.get("/documents", headers=sec.auth).json()}
    assert seen_by_security[bait]["honeytoken"] is True
    flags = {e["document_id"]: e["honeytoken"] for e in audit(runtime, "access.view")}
    assert flags == {bait: True, plain: False}
    content = client.get(f"/content/{answers[0]['content_token']}")
    assert content.status_code == 200
    assert audit(runtime, "content.deliver")[0]["honeytoken"] is True


def test_metrics_count_decisions(broker: Broker, client: TestClient) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    for _ in range(4):
        broker.ask(ann, document)
    text = client.get("/metrics").text
    assert 'guard_access_decisions_total{outcome="granted"} 3.0' in text
    assert 'guard_access_decisions_total{outcome="pending"} 1.0' in text
