"""An alert's evidence can be opened: GET /audit/{seq}, GET /audit?seq=a,b,c and action families."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from guard.runtime import Runtime
from tests.audit.helpers import append
from tests.support.people import People, Person


@pytest.fixture
def sec(people: People) -> Person:
    return people.add("sam", "security")


def test_one_entry_by_seq_carries_its_chain_link(client: TestClient, sec: Person, runtime: Runtime) -> None:
    append(runtime, 3)
    newest = client.get("/audit", params={"actor": "ann", "limit": 2}, headers=sec.auth).json()["entries"]
    later, earlier = newest
    response = client.get(f"/audit/{later['seq']}", headers=sec.auth)
    assert response.status_code == 200, response.text
    entry = response.json()
    assert {k: entry[k] for k in later} == later
    assert later["seq"] == earlier["seq"] + 1
    assert entry["prev_hash"] == earlier["hash"]


def test_missing_or_malformed_seq_is_a_clear_answer(client: TestClient, sec: Person, people: People) -> None:
    assert client.get("/audit/999999", headers=sec.auth).status_code == 404
    assert client.get("/audit/0", headers=sec.auth).status_code == 422
    assert client.get("/audit/abc", headers=sec.auth).status_code == 422
    assert client.get("/audit/1", params={"x": "1"}, headers=sec.auth).status_code == 422
    assert client.get("/audit/1", headers=people.add("ann").auth).status_code == 403


def test_seq_list_returns_exactly_those_entries(client: TestClient, sec: Person, runtime: Runtime) -> None:
    append(runtime, 10)
    seqs = [
        e["seq"] for e in client.get("/audit", params={"actor": "ann"}, headers=sec.auth).json()["entries"]
    ]
    wanted = sorted(seqs[1:6:2])
    response = client.get("/audit", params={"seq": ",".join(map(str, wanted))}, headers=sec.auth)
    assert response.status_code == 200, response.text
    assert sorted(e["seq"] for e in response.json()["entries"]) == wanted
    narrowed = client.get(
        "/audit", params={"seq": f"{wanted[0]},{seqs[-1]}", "actor": "nobody"}, headers=sec.auth
    )
    assert narrowed.json()["entries"] == []
    for bad in ("1,x", "-3", ",".join(map(str, range(1, 1100)))):
        answer = client.get("/audit", params={"seq": bad}, headers=sec.auth)
        assert answer.status_code == 422, bad
        assert "seq" in answer.json()["detail"]


def test_action_family_wildcard_matches_the_family_only(
    client: TestClient, sec: Person, people: People, runtime: Runtime
) -> None:
    people.add("ann", login=False)
    client.post("/auth/login", json={"username": "ann", "password": "wrong-password-here"})
    append(runtime, 2)
    auth = client.get("/audit", params={"action": "auth.*"}, headers=sec.auth).json()["entries"]
    assert auth
    assert all(e["action"].startswith("auth.") for e in auth)
    assert "auth.login_failed" in {e["action"] for e in auth}
    docs = client.get("/audit", params={"action": "document.*"}, headers=sec.auth).json()["entries"]
    assert [e["action"] for e in docs] == ["document.view", "document.view"]
    exact = client.get("/audit", params={"action": "auth"}, headers=sec.auth).json()["entries"]
    assert exact == []
    bad = client.get("/audit", params={"action": "a*b"}, headers=sec.auth)
    assert bad.status_code == 422
    exported = client.get("/audit/export", params={"action": "document.*"}, headers=sec.auth)
    assert exported.status_code == 200
    assert len(exported.text.strip().splitlines()) == 2


def test_payload_filters_find_decisions_customers_and_documents(
    client: TestClient, sec: Person, runtime: Runtime
) -> None:
    from datetime import UTC, datetime

    from tests.detection.helpers import access, add_entries

    now = datetime.now(UTC)
    add_entries(
        runtime,
        [
            access("ann", now, decision="denied", customer="c1", document="d1"),
            access("ann", now, decision="granted", customer="c2", document="d2"),
            access("bob", now, decision="denied", customer="c2", document="d3"),
            {
                "actor": "bob",
                "action": "access.export",
                "target": "export:x",
                "ts": now,
                "payload": {
                    "decision": "granted",
                    "customer_ids": ["c1", "c3"],
                    "document_ids": ["d1", "d9"],
                },
            },
        ],
    )

    def found(**params: str) -> list[tuple[str, str]]:
        response = client.get("/audit", params={"action": "access.*", **params}, headers=sec.auth)
        assert response.status_code == 200, response.text
        return sorted((e["actor"], e["action"]) for e in response.json()["entries"])

    assert found(decision="denied") == [("ann", "access.download"), ("bob", "access.download")]
    assert found(customer="c1") == [("ann", "access.download"), ("bob", "access.export")]
    assert found(document="d9") == [("bob", "access.export")]
    assert found(customer="c2", decision="denied", actor="bob") == [("bob", "access.download")]
    assert found(decision="nobody-decides-this") == []
    # Pages of payload-filtered searches go on from where the last one stopped.
    first = client.get("/audit", params={"decision": "denied", "limit": 1}, headers=sec.auth).json()
    second = client.get(
        "/audit", params={"decision": "denied", "limit": 1, "cursor": first["next_cursor"]}, headers=sec.auth
    ).json()
    assert [e["actor"] for e in first["entries"] + second["entries"]] == ["bob", "ann"]
    twice = client.get("/audit", params=[("decision", "denied"), ("decision", "granted")], headers=sec.auth)
    assert twice.status_code == 422
    assert "'decision' once" in twice.json()["detail"]
    exported = client.get("/audit/export", params={"customer": "c3"}, headers=sec.auth)
    assert exported.status_code == 200
    assert [line for line in exported.text.splitlines() if line.strip()].__len__() == 1
