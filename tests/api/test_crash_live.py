"""A server killed with SIGKILL in the middle of load loses nothing it answered: every grant it answered
has its row and its audit entry, the quota counters equal the grants, and the chain verifies."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from guard.access.models import AccessCounter, AccessRequest
from guard.audit.models import AuditEntry
from tests.audit.helpers import verify
from tests.broker.helpers import REASON, Broker
from tests.support.live import killable_server
from tests.support.people import People, Person

READERS, DOCUMENTS, LOAD_SECONDS = 8, 6, 1.5


def test_a_server_killed_under_load_loses_nothing_it_answered(
    db_url: str, guard_home: Path, people: People
) -> None:
    workers = 1 if db_url.startswith("sqlite") else 2
    answered: list[tuple[str, str]] = []
    stop = threading.Event()
    with (
        killable_server(guard_home, db_url, workers=workers) as (base, kill),
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        broker = Broker(http, People(http, people.runtime))  # type: ignore[arg-type]
        readers = [broker.person(f"reader{n}") for n in range(READERS)]
        customer = broker.customer(readers[0])
        documents = [broker.upload(customer, classification="public") for _ in range(DOCUMENTS)]

        def ask(reader: Person) -> None:
            with httpx.Client(base_url=base, timeout=30) as own:
                while not stop.is_set():
                    for document in documents:
                        body = {"document_id": document, "action": "view", "reason": REASON}
                        try:
                            answer = own.post("/access-requests", json=body, headers=reader.auth)
                        except httpx.HTTPError:
                            return  # the server is gone
                        if answer.status_code == 201:
                            answered.append((answer.json()["id"], answer.json()["status"]))

        threads = [threading.Thread(target=ask, args=(reader,)) for reader in readers]
        for thread in threads:
            thread.start()
        time.sleep(LOAD_SECONDS)
        kill()
        stop.set()
        for thread in threads:
            thread.join(60)
    granted = {request_id for request_id, status in answered if status == "granted"}
    assert granted, "the load produced no grants before the kill"
    with people.runtime.db.read() as session:
        stored = dict(session.execute(select(AccessRequest.id, AccessRequest.status)).all())
        audited = {
            json.loads(body)["payload"]["request_id"]
            for body in session.scalars(select(AuditEntry.body).where(AuditEntry.action == "access.view"))
        }
        counted = session.scalar(select(func.sum(AccessCounter.used))) or 0
    assert all(stored.get(request_id) == "granted" for request_id in granted)
    assert granted <= audited
    assert set(stored) == audited  # no decision without its entry, no entry without its decision
    assert counted == sum(1 for status in stored.values() if status == "granted")
    report = verify(people.runtime)
    assert report.ok, report.detail
