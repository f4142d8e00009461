"""An alert's page names what its evidence touched: document titles and customer names, each entry by seq."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from guard.clock import FixedClock
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.detection.helpers import alerts, engine_for, set_status
from tests.support.people import People


def test_evidence_entries_carry_titles_and_customer_names(
    client: TestClient, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    broker = Broker(client, people)
    sec = broker.person("sec", "security")
    ann = broker.person("ann")
    customer = broker.customer(ann, name="Acme Holdings")
    documents = [broker.upload(customer, title=f"Price list {i}") for i in range(10)]
    set_status(runtime, "ann", "notice")
    for document in documents:
        broker.ask(ann, document, "download")
        clock.advance(timedelta(minutes=1))
    engine_for(runtime).run_once()
    [alert] = alerts(runtime, rule="leaver-bulk-download")

    answer = client.get(f"/alerts/{alert.id}", headers=sec.auth)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    entries = body["evidence_entries"]
    assert [e["seq"] for e in entries] == body["evidence"]
    assert [e["documents"][0]["title"] for e in entries] == [f"Price list {i}" for i in range(10)]
    assert {e["customers"][0]["name"] for e in entries} == {"Acme Holdings"}
    assert {e["action"] for e in entries} == {"access.download"}
    assert (body["observed"], body["threshold"], body["window_seconds"]) == (10, 10, 3600)
    # The queue stays light: lists do not carry the entries.
    listed = client.get("/alerts", params={"user": "ann"}, headers=sec.auth).json()
    assert all(a["evidence_entries"] is None for a in listed)
