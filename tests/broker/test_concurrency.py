"""Fifty simultaneous requests against a quota of three grant exactly three, on both engines."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.routers.access import terms
from guard.access import service
from guard.auth.service import ClientInfo
from guard.db import transaction
from guard.runtime import Runtime
from tests.broker.helpers import REASON, Broker
from tests.support.live import live_server
from tests.support.people import PASSWORD, People

N = 50


def decisions_in_audit(url: str, document_id: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        bodies = connection.execute(
            text("SELECT body FROM audit_entries WHERE action = 'access.view' AND target = :t ORDER BY seq"),
            {"t": f"document:{document_id}"},
        ).scalars()
        decisions = [json.loads(body)["payload"]["decision"] for body in bodies]
    engine.dispose()
    return decisions


def all_at_once(send: Any) -> list[Any]:
    barrier = threading.Barrier(N)

    def one(_: int) -> Any:
        barrier.wait()
        return send()

    with ThreadPoolExecutor(N) as pool:
        return list(pool.map(one, range(N)))


def test_fifty_threads_in_process_get_exactly_three(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    body = {"document_id": document, "action": "view", "reason": REASON}
    answers = all_at_once(lambda: client.post("/access-requests", json=body, headers=ann.auth))
    assert {a.status_code for a in answers} == {201}
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["granted"] * 3 + ["pending"] * (N - 3)
    assert len({a.json()["content_token"] for a in answers if a.json()["status"] == "granted"}) == 3
    recorded = decisions_in_audit(runtime.settings.sqlalchemy_url, document)
    assert sorted(recorded) == statuses


def test_separate_transactions_from_fifty_threads_count_exactly(broker: Broker, runtime: Runtime) -> None:
    """The counter itself, without the group committer: each decision in its own transaction."""
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))

    def decide() -> str:
        with transaction(runtime.db.write) as session:
            outcome = service.request_access(
                session=session,
                terms=terms(runtime),
                user_id=ann.id,
                document_id=document,
                action="view",
                reason=REASON,
                place=None,
                client=ClientInfo(address="127.0.0.1", user_agent="test"),
                now=runtime.clock.now(),
            )
            return outcome.decision.outcome

    outcomes = sorted(all_at_once(decide))
    assert outcomes == ["granted"] * 3 + ["pending"] * (N - 3)
    assert sorted(decisions_in_audit(runtime.settings.sqlalchemy_url, document)) == outcomes


def login(base: str, username: str) -> dict[str, str]:
    response = httpx.post(f"{base}/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_fifty_requests_across_three_worker_processes_on_postgresql(
    postgres_url: str, guard_home: Path, pg_people: People
) -> None:
    pg_people.add("ann", login=False)
    pg_people.add("writer", "author", login=False)
    admin_name = pg_people.admin.username
    # live_server waits until all three workers have answered.
    with live_server(guard_home, postgres_url, workers=3, GUARD_BACKGROUND_WORKERS="false") as base:
        admin, ann, writer = (login(base, name) for name in (admin_name, "ann", "writer"))
        version = httpx.get(f"{base}/agreements/current", headers=ann).json()["version"]
        assert httpx.post(f"{base}/me/agreements", json={"version": version}, headers=ann).status_code == 201
        customer = httpx.post(
            f"{base}/customers", json={"external_id": "C-1", "name": "Acme", "owner": "ann"}, headers=admin
        ).json()["id"]
        uploaded = httpx.post(
            f"{base}/documents",
            data={"customer_id": customer, "title": "Plan", "classification": "internal"},
            files={"file": ("plan.txt", b"the plan\n", "text/plain")},
            headers=writer,
        )
        assert uploaded.status_code == 201, uploaded.text
        document = uploaded.json()["id"]
        body = {"document_id": document, "action": "view", "reason": REASON}
        # A fresh connection per request, so the kernel spreads them over the three workers.
        answers = all_at_once(
            lambda: httpx.post(f"{base}/access-requests", json=body, headers=ann, timeout=60)
        )
        assert {a.status_code for a in answers} == {201}, [a.text for a in answers if a.status_code != 201]
        statuses = sorted(a.json()["status"] for a in answers)
        assert statuses == ["granted"] * 3 + ["pending"] * (N - 3)
        listed = httpx.get(f"{base}/documents/{document}", headers=ann).json()
        assert listed["views_left"] == 0
    recorded = decisions_in_audit(postgres_url, document)
    assert sorted(recorded) == statuses
