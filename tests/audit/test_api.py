"""GET /audit, /audit/export and /audit/verify: security staff only, clear 4xx for bad input."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from guard.audit.models import AuditEntry
from guard.clock import FixedClock
from guard.runtime import Runtime
from tests.audit.helpers import append, sql, unlock
from tests.support.people import People, Person


@pytest.fixture
def sec(people: People) -> Person:
    return people.add("sam", "security")


def entries(client: TestClient, person: Person, **params: object) -> Any:
    response = client.get("/audit", params=params, headers=person.auth)
    assert response.status_code == 200, response.text
    return response.json()


def test_only_security_staff_may_read_the_log(client: TestClient, people: People, sec: Person) -> None:
    staff = people.add("ann")
    for path in ("/audit", "/audit/verify", "/audit/export"):
        assert client.get(path).status_code == 401
        for outsider in (staff, people.admin):
            response = client.get(path, headers=outsider.auth)
            assert response.status_code == 403, path
            assert "security" in response.json()["detail"]
        assert client.get(path, params={"bogus": "1"}, headers=staff.auth).status_code == 403
        assert client.get(path, headers=sec.auth).status_code == 200, path


def test_search_returns_entries_newest_first_with_their_hashes(client: TestClient, sec: Person) -> None:
    page = entries(client, sec, action="auth.login")
    found = page["entries"]
    assert isinstance(found, list)
    assert [e["actor"] for e in found] == ["sam", "root"]
    first = found[0]
    assert set(first) == {"seq", "ts", "actor", "action", "target", "payload", "hash"}
    assert first["payload"]["client"] == "testclient"
    assert len(first["hash"]) == 64
    assert page["next_cursor"] is None


def test_filters_narrow_the_search(client: TestClient, people: People, sec: Person, runtime: Runtime) -> None:
    people.add("ann", login=False)
    client.post("/auth/login", json={"username": "ann", "password": "wrong-password-here"})
    append(runtime, 3, actor="bob")
    assert [e["action"] for e in entries(client, sec, actor="ann")["entries"]] == ["auth.login_failed"]
    by_target = entries(client, sec, target="user:ann")["entries"]
    assert {e["action"] for e in by_target} == {"user.create", "auth.login_failed"}
    both = entries(client, sec, actor="bob", action="document.view")["entries"]
    assert len(both) == 3
    assert entries(client, sec, actor="nobody")["entries"] == []


def test_time_bounds(client: TestClient, sec: Person, runtime: Runtime, clock: FixedClock) -> None:
    clock.advance(timedelta(minutes=5))
    middle = clock.now()
    append(runtime, 2, per_transaction=1, actor="bob")  # at middle and middle + 1 s
    later = entries(client, sec, since=middle.isoformat())["entries"]
    assert [e["actor"] for e in later] == ["bob", "bob"]
    until = (middle + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    window = entries(client, sec, since=middle.isoformat(), until=until)["entries"]
    assert [e["payload"]["n"] for e in window] == [1]


def test_cursor_pages_through_everything_once(client: TestClient, sec: Person, runtime: Runtime) -> None:
    append(runtime, 25)
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        params: dict[str, object] = {"actor": "ann", "limit": 10, "order": "asc"}
        if cursor:
            params["cursor"] = cursor
        page = entries(client, sec, **params)
        seen += [e["seq"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    with runtime.db.read() as session:
        expected = list(
            session.scalars(select(AuditEntry.seq).where(AuditEntry.actor == "ann").order_by("seq"))
        )
    assert seen == expected
    assert len(seen) == 25


BAD_SEARCHES = [
    ({"since": "yesterday"}, "ISO 8601"),
    ({"since": "2026-03-02T09:00:00"}, "timezone"),
    ({"since": "2026-03-03T00:00:00Z", "until": "2026-03-02T00:00:00Z"}, "earlier"),
    ({"limit": 0}, "limit"),
    ({"limit": 1001}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"actr": "ann"}, "unknown parameter 'actr'"),
    ({"order": "sideways"}, "order"),
    ({"actor": "x" * 201}, "longer than 200"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": "A" * 43}, "cursor"),
]


def test_bad_search_input_is_a_clear_422(client: TestClient, sec: Person) -> None:
    for params, says in BAD_SEARCHES:
        response = client.get("/audit", params=params, headers=sec.auth)
        assert response.status_code == 422, params
        assert says in response.json()["detail"], params


def test_forged_or_reused_cursors_are_refused(client: TestClient, sec: Person, runtime: Runtime) -> None:
    append(runtime, 5)
    cursor = entries(client, sec, actor="ann", limit=2)["next_cursor"]
    assert isinstance(cursor, str)
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for params in ({"actor": "ann", "cursor": tampered}, {"actor": "bob", "cursor": cursor}):
        response = client.get("/audit", params={**params, "limit": 2}, headers=sec.auth)
        assert response.status_code == 422
        assert "cursor" in response.json()["detail"]


def test_export_jsonl_streams_every_match_and_is_recorded(
    client: TestClient, sec: Person, runtime: Runtime
) -> None:
    append(runtime, 1200, per_transaction=100)  # more than one streamed batch
    response = client.get("/audit/export", params={"format": "jsonl", "actor": "ann"}, headers=sec.auth)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in response.headers["content-disposition"]
    lines = [orjson.loads(line) for line in response.content.splitlines()]
    assert [line["payload"]["n"] for line in lines] == list(range(1, 1201))
    assert {"seq", "ts", "actor", "action", "target", "payload", "prev_hash", "hash"} <= set(lines[0])
    recorded = entries(client, sec, action="audit.export")["entries"]
    assert len(recorded) == 1
    assert recorded[0]["actor"] == "sam"
    assert recorded[0]["payload"]["filters"] == {"actor": "ann"}


def test_export_csv_has_a_header_and_defuses_formulas(
    client: TestClient, sec: Person, runtime: Runtime
) -> None:
    append(runtime, 2, actor="=HYPERLINK(1)")
    response = client.get("/audit/export", params={"format": "csv"}, headers=sec.auth)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["seq", "ts", "actor", "action", "target", "payload", "prev_hash", "hash"]
    planted = [r for r in rows if "HYPERLINK" in r["actor"]]
    assert [r["actor"] for r in planted] == ["'=HYPERLINK(1)"] * 2
    assert orjson.loads(planted[0]["payload"])["n"] == 1


@pytest.mark.parametrize(
    ("params", "says"),
    [({"format": "xml"}, "format"), ({"until": "soon"}, "ISO 8601"), ({"limit": 5}, "unknown")],
)
def test_bad_export_input_is_422_and_not_recorded(
    client: TestClient, sec: Person, runtime: Runtime, params: dict[str, object], says: str
) -> None:
    response = client.get("/audit/export", params=params, headers=sec.auth)
    assert response.status_code == 422
    assert says in response.json()["detail"]
    assert entries(client, sec, action="audit.export")["entries"] == []


def test_verify_endpoint_reports_intact_and_damaged(
    client: TestClient, sec: Person, runtime: Runtime
) -> None:
    append(runtime, 30)
    intact = client.get("/audit/verify", headers=sec.auth).json()
    assert intact["ok"] is True
    assert intact["entries"] == intact["verified_through"] >= 30
    assert "first_bad_seq" not in intact
    assert "problem" not in intact
    unlock(runtime.db.engine)
    sql(runtime.db.engine, "DELETE FROM audit_entries WHERE seq = 12")
    damaged = client.get("/audit/verify", params={"full": "true"}, headers=sec.auth).json()
    assert (damaged["ok"], damaged["first_bad_seq"], damaged["problem"]) == (False, 12, "deleted")
    assert damaged["verified_through"] == 11
    assert damaged["mode"] == "full"


def test_a_verify_that_cannot_read_the_log_is_unavailable_not_a_crash(
    client: TestClient, sec: Person, runtime: Runtime
) -> None:
    append(runtime, 3)
    sql(runtime.db.engine, "DROP TABLE audit_entries")  # the walk itself is the first to read the entries

    response = client.get("/audit/verify", params={"full": "true"}, headers=sec.auth)

    assert response.status_code == 503, response.text
    assert "nothing was changed" in response.json()["detail"]
