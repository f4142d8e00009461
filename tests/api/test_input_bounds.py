"""Inputs are bounded at the edge: edge values, NUL and control characters, invisible reasons and oversized
chunked bodies get a clear 4xx and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guard.audit.models import AuditEntry
from guard.policies.rules import Detector, EntrySkipped
from guard.policies.rules.events import Event
from guard.policies.rules.loader import load_rules
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.detection.helpers import DEFAULT_RULES
from tests.detection.test_events_api import api_key
from tests.support.people import People


def entries(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00"])
def test_an_event_dated_outside_1970_to_9999_is_refused_and_nothing_is_stored(
    client: TestClient, people: People, runtime: Runtime, ts: str
) -> None:
    key = api_key(client, people, "crm-bridge", "ingest")
    before = entries(runtime)
    event = {"ts": ts, "actor": "root", "action": "crm.export", "source": "crm"}
    response = client.post("/events", json=[event], headers=key)
    assert response.status_code == 422
    assert "events[0].ts" in response.text
    assert entries(runtime) == before


@pytest.mark.parametrize(
    "params",
    [
        {"since": "0001-01-01T00:00:00+14:00"},
        {"until": "9999-12-31T23:59:59-14:00"},
        {"since": "1900-01-01T00:00:00Z"},
    ],
)
def test_audit_times_outside_the_range_are_422(
    client: TestClient, people: People, params: dict[str, str]
) -> None:
    sec = people.add("sec", "security")
    response = client.get("/audit", params=params, headers=sec.auth)
    assert response.status_code == 422
    assert "1970" in response.json()["detail"]


def test_a_huge_offset_is_422(broker: Broker, client: TestClient) -> None:
    ann = broker.person("ann")
    assert client.get("/documents", params={"offset": 2**63}, headers=ann.auth).status_code == 422
    assert client.get("/documents", params={"offset": 1_000_000}, headers=ann.auth).json() == []


def test_an_hr_date_before_1970_is_refused_and_nothing_is_applied(
    broker: Broker, client: TestClient, people: People, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    helen = people.add("helen", "hr")
    before = entries(runtime)
    body = {
        "employee": "ann",
        "type": "resignation",
        "notice_date": "0001-01-05",
        "last_working_date": "2026-03-20",
    }
    response = client.post("/hr/events", json=body, headers=helen.auth)
    assert response.status_code == 422
    assert "notice_date" in response.json()["detail"]
    assert entries(runtime) == before
    assert client.get("/me", headers=ann.auth).json()["lifecycle"] == "active"


@pytest.mark.parametrize("username", ["ann\x00x", "ann\x07"])
def test_control_characters_in_a_body_are_422_on_every_engine(
    client: TestClient, people: People, runtime: Runtime, username: str
) -> None:
    admin = people.admin.auth
    before = entries(runtime)
    body = {"username": username, "display_name": "Ann\x00", "email": "ann@example.com"}
    response = client.post("/users", json=body, headers=admin)
    assert response.status_code == 422
    assert "control characters" in response.text
    assert entries(runtime) == before


@pytest.mark.parametrize("path", ["/documents/abc%00def", "/documents?customer_id=%00", "/users/%01"])
def test_control_characters_in_the_address_are_422(client: TestClient, people: People, path: str) -> None:
    response = client.get(path, headers=people.admin.auth)
    assert response.status_code == 422
    assert "control characters" in response.json()["detail"]


@pytest.mark.parametrize("reason", ["\x00" * 30, "\u200b" * 30, "   \u200b\u200c\u200d\u2060   " * 5])
def test_a_reason_of_invisible_characters_is_no_reason(broker: Broker, runtime: Runtime, reason: str) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    before = entries(runtime)
    response = broker.ask_response(ann, document, reason=reason)
    assert response.status_code == 422
    assert entries(runtime) == before


def test_a_chunked_body_over_the_limit_is_413(client: TestClient, people: People, runtime: Runtime) -> None:
    limit = runtime.settings.http.max_body_bytes

    def chunks() -> Iterator[bytes]:
        yield b'{"username": "zed", "display_name": "'
        for _ in range(limit // 1000 + 2):
            yield b"x" * 1000
        yield b'", "email": "zed@example.com"}'

    headers = {**people.admin.auth, "content-type": "application/json"}
    response = client.post("/users", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_a_rule_skips_an_entry_it_cannot_evaluate_and_stays_on() -> None:
    rules = load_rules(DEFAULT_RULES)
    detector = Detector(rules.rules)
    active = list(detector.active)
    old = Event(
        seq=1, ts=datetime(1, 1, 1, tzinfo=UTC), actor="ann", action="access.download", target="document:d1"
    )
    [skipped] = detector.observe(old)
    assert isinstance(skipped, EntrySkipped)
    assert skipped.seq == 1
    assert detector.active == active
