"""POST /events: other systems' events, validated whole, chained into the audit log, seen by the rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from guard.audit.actions import GUARD_ACTION_FAMILIES
from guard.audit.models import AuditEntry
from guard.clock import FixedClock
from guard.detection.ingest import MAX_BATCH
from guard.runtime import Runtime
from tests.detection.helpers import alerts, engine_for, set_status
from tests.support.people import People


def api_key(client: TestClient, people: People, username: str, *roles: str) -> dict[str, str]:
    person = people.add(username, *roles, login=False)
    created = client.post(f"/users/{person.id}/api-keys", json={"name": "bridge"}, headers=people.admin.auth)
    assert created.status_code == 201, created.text
    return {"Authorization": f"ApiKey {created.json()['key']}"}


@pytest.fixture
def ingest(client: TestClient, people: People) -> dict[str, str]:
    return api_key(client, people, "crm-bridge", "ingest")


def external_entries(runtime: Runtime) -> list[AuditEntry]:
    with runtime.db.read() as session:
        return [
            e
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
            if '"external":true' in e.body
        ]


def event(clock: FixedClock, **changes: Any) -> dict[str, Any]:
    return {"ts": clock.now().isoformat(), "actor": "ann", "action": "crm.export", "source": "crm", **changes}


def test_a_crm_export_of_5000_rows_by_a_leaver_triggers_the_leaver_rule(
    client: TestClient, people: People, runtime: Runtime, clock: FixedClock, ingest: dict[str, str]
) -> None:
    people.add("ann", login=False)
    set_status(runtime, "ann", "notice")
    batch = [
        event(clock, action="crm.report_view", target="report:pipeline", count=1),
        event(clock, actor="ANN@example.com", target="report:all-accounts", customer_id="c-9", count=5000),
    ]
    response = client.post("/events", json=batch, headers=ingest)
    assert response.status_code == 202
    assert response.json() == {"accepted": 2}
    stored = external_entries(runtime)
    assert [(e.actor, e.action, e.target) for e in stored] == [
        ("ann", "crm.report_view", "report:pipeline"),
        ("ann", "crm.export", "report:all-accounts"),
    ]
    payload = orjson.loads(stored[1].body)["payload"]
    # The entry names the key that forwarded the event, and who made that key.
    assert payload.pop("auth")["key_created_by"] == people.admin.username
    assert payload == {
        "source": "crm",
        "external": True,
        "count": 5000,
        "customer_id": "c-9",
        "status": "notice",
        "ingested_by": "crm-bridge",
        "reported_actor": "ANN@example.com",
    }

    engine_for(runtime).run_once()

    rules = {a.rule: a for a in alerts(runtime, username="ann")}
    assert set(rules) == {"leaver-bulk-download", "external-bulk-export"}
    assert rules["leaver-bulk-download"].evidence == [stored[1].seq]
    assert rules["leaver-bulk-download"].observed == 5000


def test_an_unknown_actor_is_kept_as_sent(
    client: TestClient, runtime: Runtime, clock: FixedClock, ingest: dict[str, str]
) -> None:
    assert (
        client.post("/events", json=[event(clock, actor="contractor-77")], headers=ingest).status_code == 202
    )
    [entry] = external_entries(runtime)
    assert entry.actor == "contractor-77"
    assert "status" not in orjson.loads(entry.body)["payload"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"ts": "2026-03-02T09:00:00"}, "timezone"),
        ({"ts": "2027-01-01T00:00:00Z"}, "in the future"),
        ({"action": "access.download"}, "Guard's own"),
        ({"action": "export"}, "system.verb"),
        ({"source": "CRM system"}, "source"),
        ({"actor": "system:detection"}, "actor"),
        ({"count": -1}, "count"),
        ({"colour": "red"}, "unknown field"),
        ({"actor": None}, "actor"),
    ],
    ids=[
        "naive-ts",
        "future",
        "reserved-action",
        "bad-action",
        "bad-source",
        "system-actor",
        "negative-count",
        "unknown-field",
        "no-actor",
    ],
)
def test_one_bad_item_refuses_the_whole_batch(
    client: TestClient,
    runtime: Runtime,
    clock: FixedClock,
    ingest: dict[str, str],
    change: dict[str, Any],
    words: str,
) -> None:
    batch = [event(clock), event(clock), {**event(clock), **change}]
    response = client.post("/events", json=batch, headers=ingest)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
    assert external_entries(runtime) == []


def audit_count(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return len(list(session.scalars(select(AuditEntry.seq))))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"action": "vault.tamper"}, "events[1].action"),
        ({"action": "keys.rotate"}, "events[1].action"),
        ({"action": "policy.reloaded"}, "events[1].action"),
        ({"action": "users.delete"}, "events[1].action"),
        ({"source": "guard"}, "events[1].source"),
        ({"source": "GUARD"}, "events[1].source"),
    ],
    ids=["vault", "keys", "policy", "plural", "source", "source-upper-case"],
)
def test_guard_own_namespaces_are_refused_and_nothing_is_written(
    client: TestClient,
    runtime: Runtime,
    clock: FixedClock,
    ingest: dict[str, str],
    change: dict[str, Any],
    field: str,
) -> None:
    before = audit_count(runtime)
    response = client.post("/events", json=[event(clock), {**event(clock), **change}], headers=ingest)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(f"{field}: ")
    assert audit_count(runtime) == before
    assert external_entries(runtime) == []
    # An ordinary event from another system still goes in.
    accepted = client.post("/events", json=[event(clock, action="crm.export")], headers=ingest)
    assert accepted.status_code == 202, accepted.text
    assert audit_count(runtime) == before + 1


def test_every_family_guard_records_is_refused(
    client: TestClient, runtime: Runtime, clock: FixedClock, ingest: dict[str, str]
) -> None:
    before = audit_count(runtime)
    for family in sorted(GUARD_ACTION_FAMILIES):
        response = client.post("/events", json=[event(clock, action=f"{family}.anything")], headers=ingest)
        assert response.status_code == 422, family
        assert response.json()["detail"].startswith("events[0].action: "), family
    assert audit_count(runtime) == before


def test_batch_size_is_capped_and_an_empty_batch_refused(
    client: TestClient, runtime: Runtime, clock: FixedClock, ingest: dict[str, str]
) -> None:
    too_many = [
        event(clock, ts=(clock.now() - timedelta(seconds=i)).isoformat()) for i in range(MAX_BATCH + 1)
    ]
    response = client.post("/events", json=too_many, headers=ingest)
    assert response.status_code == 422
    assert str(MAX_BATCH) in response.json()["detail"]
    assert client.post("/events", json=[], headers=ingest).status_code == 422
    assert client.post("/events", json={"ts": "x"}, headers=ingest).status_code == 422
    assert external_entries(runtime) == []


def test_only_an_ingest_api_key_may_send_events(
    client: TestClient, people: People, clock: FixedClock
) -> None:
    batch = [event(clock)]
    other_key = api_key(client, people, "hr-bridge", "hr")
    assert client.post("/events", json=batch, headers=other_key).status_code == 403
    ingest_person = people.add("ingester", "ingest")  # the role, but a person's token rather than a key
    assert client.post("/events", json=batch, headers=ingest_person.auth).status_code == 403
    assert client.post("/events", json=batch).status_code == 401
