"""A honeytoken's cover custodian holds it like any document: it is on their handover checklist, tells
the right people about a leaver, and passes to their successor when they leave."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from guard.clock import FixedClock
from guard.hr.departure import sweep
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.hr.helpers import Hr
from tests.support.people import People

NOTICE = {"type": "resignation", "notice_date": "2026-03-02", "last_working_date": "2026-03-06"}


def get(client: TestClient, path: str, person: Any) -> Any:
    response = client.get(path, headers=person.auth)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_decoy_is_handed_over_under_its_cover_custodian(
    client: TestClient, broker: Broker, hr: Hr, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    broker.person("mia")  # manager
    sam = broker.person("sam")  # successor
    sec = broker.person("sec", "security")
    kim = broker.person("kim", "custodian")
    ann = people.add("ann", "staff", "custodian", manager="mia")
    broker.accept(ann)
    kims = broker.customer(kim, name="Kim's customer")
    acme = broker.customer(ann, name="Acme")
    broker.upload(acme, title="Visit notes", custodian="ann")
    decoy = broker.upload(acme, by=sec, title="Price list", honeytoken="true", cover_custodian="ann")
    broker.upload(kims, by=sec, title="Bait", honeytoken="true", cover_custodian="kim")

    hr.event(employee="ann", successor="sam", **NOTICE)
    [handover] = get(client, "/handovers", sam)
    assert {(i["kind"], i["label"]) for i in handover["items"]} == {
        ("customer", "Acme"),
        ("document", "Visit notes"),
        ("document", "Price list"),
    }

    clock.advance(timedelta(days=4, hours=9))
    sweep(read=runtime.db.read, write=runtime.db.write, hr=runtime.settings.hr, now=clock.now())
    sam, sec = people.login("sam"), people.login("sec")
    seen = get(client, f"/documents/{decoy}", sam)
    assert (seen["author"], seen["custodian"], seen["honeytoken"]) == ("ann", "sam", None)
    real = get(client, f"/documents/{decoy}", sec)
    assert (real["author"], real["custodian"], real["honeytoken"]) == ("sec", "sec", True)
    assert get(client, "/handovers", sec)  # security's own decoys were never on anyone's checklist
    assert all(i["label"] != "Bait" for h in get(client, "/handovers", sec) for i in h["items"])
