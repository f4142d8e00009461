"""The exposure report counts exactly what the audit log says, split at the notice, within the window."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from guard.audit.models import AuditEntry
from guard.cli.report import as_table
from guard.clock import FixedClock
from guard.hr.archive import exposure_report
from guard.hr.exposure import exposure_csv as as_csv
from guard.runtime import Runtime
from guard.settings import Settings
from tests.broker.helpers import Broker
from tests.detection.helpers import engine_for
from tests.hr.helpers import Hr
from tests.support.live import GUARD, server_env
from tests.support.people import People, Person
from tests.support.settings import guard_settings

LOOKS = {"view": "views", "download": "downloads", "export": "exports"}


@pytest.fixture
def settings(guard_home: Path, db_url: str) -> Settings:
    # One day of look-back keeps the timeline short: activity two days before notice is out of the window.
    return guard_settings(guard_home, db_url, hr={"lookback_days": 1})


def look(broker: Broker, person: Person, document: str, action: str = "view") -> dict[str, Any]:
    """Ask, and collect the bytes when granted (a look is a delivery)."""
    answer = broker.ask(person, document, action)
    if answer["status"] == "granted":
        assert broker.client.get(f"/content/{answer['content_token']}").status_code == 200
    return answer


def from_audit(runtime: Runtime, username: str, start: datetime, end: datetime) -> dict[str, Counter[str]]:
    """The expected counts, straight from the audit log: deliveries per document by action, decisions."""
    expected: dict[str, Counter[str]] = {}
    with runtime.db.read() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.actor == username).order_by(AuditEntry.seq)
        ).all()
    for entry in entries:
        if not start <= entry.ts <= end:
            continue
        payload = json.loads(entry.body)["payload"]
        ids = payload.get("document_ids") or [payload.get("document_id")]
        for document in filter(None, ids):
            tally = expected.setdefault(document, Counter())
            if entry.action == "content.deliver":
                tally[LOOKS[payload["action"]]] += 1
            elif entry.action.startswith("access.") and entry.action != "access.cancel":
                tally["requests"] += 1
                tally["denied"] += payload["decision"] == "denied"
    return expected


def test_exposure_counts_match_the_audit_log_exactly(
    client: TestClient, broker: Broker, hr: Hr, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    ann = broker.person("ann")
    other = broker.person("olaf")
    sec = people.add("sec", "security", login=False)
    hr.officer  # noqa: B018 - created while the admin's token is fresh
    acme, globex = broker.customer(ann, name="Acme"), broker.customer(other, name="Globex")
    plan = broker.upload(acme, title="Plan")
    prices = broker.upload(acme, title="Prices")
    contacts = broker.upload(acme, title="Contacts")
    brochure = broker.upload(globex, title="Brochure", classification="public")
    ingest = people.add("crm", "ingest", login=False)
    key = client.post(f"/users/{ingest.id}/api-keys", json={"name": "crm"}, headers=people.admin.auth)
    crm = {"Authorization": f"ApiKey {key.json()['key']}"}

    look(broker, ann, plan)  # Monday: before the look-back window, not counted

    clock.advance(timedelta(days=1, hours=1))  # Tuesday 10:00, in the window, before notice
    ann = people.login("ann")
    look(broker, ann, plan)
    look(broker, ann, prices, "download")
    export = broker.export(ann, [plan, contacts])
    assert export.status_code == 201, export.text
    assert client.get(f"/content/{export.json()['content_token']}").status_code == 200
    assert broker.ask(ann, contacts)["status"] == "granted"  # granted, never collected: not a look
    look(broker, ann, brochure)

    clock.advance(timedelta(days=1))  # Wednesday 10:00: she resigned this morning
    hr.event(employee="ann", type="resignation", notice_date="2026-03-04", last_working_date="2026-03-13")
    ann = people.login("ann")
    assert look(broker, ann, prices)["status"] == "granted"
    assert look(broker, ann, plan, "download")["status"] == "denied"
    assert look(broker, ann, brochure)["status"] == "denied"  # outside her portfolio while on notice
    sent = client.post(
        "/events",
        json=[
            {
                "ts": clock.now().isoformat(),
                "actor": "ann",
                "action": "crm.export",
                "source": "crm",
                "customer_id": acme,
                "count": 40,
            }
        ],
        headers=crm,
    )
    assert sent.status_code == 202, sent.text

    clock.advance(timedelta(hours=5))
    report = hr.get("/hr/departures/ann/exposure", by=people.login(sec.username))
    assert (report["user"], report["notice_date"], report["last_working_date"]) == (
        "ann",
        "2026-03-04",
        "2026-03-13",
    )
    window = report["window"]
    assert window["from"].startswith("2026-03-03T00:00")
    assert window["notice_at"].startswith("2026-03-04T00:00")

    documents = {d["document_id"]: d for d in report["documents"]}
    expected = from_audit(
        runtime, "ann", datetime.fromisoformat(window["from"]), datetime.fromisoformat(window["to"])
    )
    assert set(documents) == set(expected) == {plan, prices, contacts, brochure}
    for document, tally in expected.items():
        row = documents[document]
        for field in ("views", "downloads", "exports", "requests", "denied"):
            assert row[field] == tally[field], (document, field)
    # The same facts, spelled out: the Monday view is outside the window; the uncollected grant is a
    # request, not a look; the export counts once for each document in it.
    assert (documents[plan]["views"], documents[plan]["exports"], documents[plan]["downloads"]) == (1, 1, 0)
    assert documents[plan]["after_notice"] == {
        "views": 0,
        "downloads": 0,
        "exports": 0,
        "requests": 1,
        "denied": 1,
        "external": 0,
    }
    assert (documents[prices]["downloads"], documents[prices]["views"]) == (1, 1)
    assert documents[prices]["before_notice"]["downloads"] == 1
    assert documents[prices]["after_notice"]["views"] == 1
    assert (
        documents[contacts]["views"],
        documents[contacts]["exports"],
        documents[contacts]["requests"],
    ) == (0, 1, 2)
    assert documents[brochure]["title"] == "Brochure"

    customers = {c["name"]: c for c in report["customers"]}
    assert set(customers) == {"Acme", "Globex"}
    acme_row = customers["Acme"]
    assert (acme_row["views"], acme_row["downloads"], acme_row["exports"]) == (2, 1, 1)
    assert acme_row["external"] == 40
    assert acme_row["after_notice"]["external"] == 40
    assert acme_row["last"].startswith("2026-03-04T10:00")
    assert (customers["Globex"]["views"], customers["Globex"]["denied"]) == (1, 1)
    assert report["totals"]["customers"] == 2
    assert report["handover"]["status"] == "open"
    assert report["alerts"] == []

    # The command line gives the same numbers.
    env = server_env(runtime.settings.home, runtime.settings.sqlalchemy_url, GUARD_HR__LOOKBACK_DAYS="1")
    as_json = subprocess.run(
        [GUARD, "report", "exposure", "ann", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert as_json.returncode == 0, as_json.stderr
    cli = {d["document_id"]: d for d in json.loads(as_json.stdout)["documents"]}
    assert {d: (r["views"], r["downloads"], r["exports"]) for d, r in cli.items()} == {
        d: (r["views"], r["downloads"], r["exports"]) for d, r in documents.items()
    }
    with runtime.db.read() as session:
        same = exposure_report(session=session, username="ann", hr=runtime.settings.hr, now=clock.now())
    lines = as_csv(same).splitlines()
    assert lines[0].startswith("kind,id,name,customer_id,views,downloads,exports")
    assert f"customer,{acme},Acme,,2,1,1,6,1,40," in as_csv(same)
    assert f"document,{plan},Plan,{acme},1,0,1,3,1,0," in as_csv(same)
    assert "exposure of ann (notice)" in as_table(same)


def test_only_security_and_hr_read_exposure_and_the_archive(hr: Hr, people: People) -> None:
    people.add("ann")
    hr.event(employee="ann", type="termination")
    for roles in (("staff",), ("admin",), ("approver",)):
        outsider = people.add(f"x{len(roles[0])}{roles[0][:3]}", *roles)
        for path in ("/hr/departures", "/hr/departures/ann/exposure", "/hr/watchlist"):
            assert hr.client.get(path, headers=outsider.auth).status_code == 403
    security = people.add("sec", "security")
    assert hr.client.get("/hr/departures/ann/exposure", headers=security.auth).status_code == 200
    assert hr.client.get("/hr/departures/ghost/exposure", headers=security.auth).status_code == 404


def test_a_resignation_re_examines_the_past_and_the_report_lists_the_alerts(
    client: TestClient, hr: Hr, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    people.add("ann")
    sec = people.add("sec", "security")
    ingest = people.add("crm", "ingest", login=False)
    key = client.post(f"/users/{ingest.id}/api-keys", json={"name": "crm"}, headers=people.admin.auth)
    # Last night the CRM reported a 2,500-row export by Ann: nobody was watching then.
    event = {
        "ts": (clock.now() - timedelta(hours=12)).isoformat(),
        "actor": "ann",
        "action": "crm.export",
        "source": "crm",
        "count": 2500,
    }
    sent = client.post("/events", json=[event], headers={"Authorization": f"ApiKey {key.json()['key']}"})
    assert sent.status_code == 202, sent.text

    result = hr.event(employee="ann", type="resignation", last_working_date="2026-03-20")
    assert "lookback:queued over 1 days" in result["applied"]
    assert hr.get("/hr/departures/ann/exposure", by=sec)["alerts"] == []  # not in the HR transaction
    assert engine_for(runtime).run_lookbacks() == 1
    assert engine_for(runtime).run_lookbacks() == 0  # done once
    report = hr.get("/hr/departures/ann/exposure", by=sec)
    # Judged as a leaver's: the export before the notice is also a leaver's bulk export.
    found = sorted((alert["rule"], alert["lookback"]) for alert in report["alerts"])
    assert found == [("external-bulk-export", True), ("leaver-bulk-download", True)]
    again = hr.event(employee="ann", type="resignation", last_working_date="2026-03-20")
    assert again["duplicate"] is True
    assert engine_for(runtime).run_lookbacks() == 0
    assert len(hr.get("/hr/departures/ann/exposure", by=sec)["alerts"]) == 2


def test_the_exposure_csv_defuses_names_and_titles_that_look_like_formulas(
    hr: Hr, people: People, runtime: Runtime
) -> None:
    broker = Broker(hr.client, people)
    ann = broker.person("ann")
    customer = broker.customer(ann, name='=HYPERLINK("http://evil.example","Acme")')
    look(broker, ann, broker.upload(customer, title="+cmd|' /C calc'!A0"))
    look(broker, ann, broker.upload(customer, title="@SUM(1+1)"))
    hr.event(employee="ann", type="resignation", notice_date="2026-03-02", last_working_date="2026-03-20")
    env = server_env(runtime.settings.home, runtime.settings.sqlalchemy_url)
    result = subprocess.run(
        [GUARD, "report", "exposure", "ann", "--format", "csv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    names = sorted(row[2] for row in rows[1:])
    assert names == ["'+cmd|' /C calc'!A0", '\'=HYPERLINK("http://evil.example","Acme")', "'@SUM(1+1)"]
