"""What each role does in the console, over HTTP on both databases: the same rules and the same audit
as the API, and every page of audit data itself on record."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from fastapi.testclient import TestClient

from guard.clock import FixedClock
from guard.hr.inbox.importer import import_bytes
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.console.helpers import csrf_of, form_on, post_form, sign_in
from tests.detection.helpers import access, add_entries, engine_for
from tests.hr.helpers import Hr, audit
from tests.support.people import People

REASON = "preparing the quarterly review"


def test_staff_find_their_customers_documents_by_title_and_see_looks_left(
    client: TestClient, broker: Broker
) -> None:
    ann = broker.person("ann")
    bob = broker.person("bob")
    acme = broker.customer(ann, "Acme")
    other = broker.customer(bob, "Globex")
    broker.upload(acme, title="Acme pricing 2026")
    broker.upload(acme, title="Acme contacts")
    broker.upload(other, title="Globex pricing 2026")
    sign_in(client, "ann")
    found = client.get("/console/documents", params={"title": "PRICING"}).text
    assert "Acme pricing 2026" in found
    assert "Globex pricing 2026" in found
    assert "Acme contacts" not in found
    mine = client.get("/console/documents", params={"title": "pricing", "mine": "true"}).text
    assert "Acme pricing 2026" in mine
    assert "Globex pricing 2026" not in mine
    by_customer = client.get("/console/documents", params={"customer": "glob"}).text
    assert "Globex pricing 2026" in by_customer
    assert "Acme pricing 2026" not in by_customer
    assert "<td>3</td>" in by_customer  # three looks left of the quota


def test_the_fourth_look_goes_to_an_approver_who_approves_it_in_the_queue(
    client: TestClient, broker: Broker, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    broker.person("alice", "approver")
    document = broker.upload(broker.customer(ann, "Acme"), title="Acme plan")
    sign_in(client, "ann")
    states = []
    for _ in range(4):
        asked = post_form(
            client, f"/console/documents/{document}", f"/console/documents/{document}/request", reason=REASON
        )
        assert asked.status_code == 303
        shown = client.get(asked.headers["location"]).text
        states.append("granted" if "/content/" in shown else "pending" if "badge-pending" in shown else "?")
    assert states == ["granted", "granted", "granted", "pending"]
    pending_page = asked.headers["location"]
    client.cookies.clear()
    sign_in(client, "alice")
    queue = client.get("/console/requests").text
    assert "Waiting for approval" in queue
    assert REASON in queue
    assert "Acme plan" in queue
    request_id = pending_page.rsplit("/", 1)[1]
    approved = post_form(
        client, "/console/requests", f"/console/requests/{request_id}/approve", note="ok once"
    )
    assert approved.status_code == 303
    assert [e["payload"]["request_id"] for e in audit(runtime, "access.approve")] == [request_id]
    client.cookies.clear()
    sign_in(client, "ann")
    granted = client.get(pending_page).text
    assert "/content/" in granted
    assert "alice (approve" in granted
    assert "ok once" in granted


def test_an_approver_cannot_approve_their_own_request_and_is_told_why(
    client: TestClient, broker: Broker
) -> None:
    alice = broker.person("alice", "approver")
    document = broker.upload(broker.customer(alice), title="Plan", classification="restricted")
    sign_in(client, "alice")
    asked = post_form(
        client, f"/console/documents/{document}", f"/console/documents/{document}/request", reason=REASON
    )
    request_id = asked.headers["location"].rsplit("/", 1)[1]
    queue = client.get("/console/requests").text
    assert f"/console/requests/{request_id}/approve" not in queue  # one's own request is not offered
    token = csrf_of(form_on(queue, "/console/sign-out"))  # the session's token, posted by hand
    refused = client.post(
        f"/console/requests/{request_id}/approve", data={"csrf": token, "note": "me"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert "own" in refused.text


def test_hr_files_a_resignation_and_the_person_shows_on_notice(
    client: TestClient, broker: Broker, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    ann = broker.person("ann")
    broker.person("bob")
    broker.customer(ann, "Acme")
    people.add("helen", "hr", login=False)
    sign_in(client, "helen")
    last_day = (clock.now() + timedelta(days=14)).date().isoformat()
    filed = post_form(
        client,
        "/console/leavers",
        "/console/leavers/events",
        type="resignation",
        employee="ann",
        notice_date=clock.now().date().isoformat(),
        last_working_date=last_day,
        successor="bob",
    )
    assert filed.status_code == 303, filed.text
    page = client.get(filed.headers["location"]).text
    assert "resignation of ann recorded; status now notice" in page
    assert "Ann (ann)" in page
    assert last_day in page
    assert "0 of 1 acknowledged by bob" in page
    [event] = audit(runtime, "hr.resignation")
    assert event["actor"] == "helen"


def test_a_bad_date_in_the_hr_form_is_refused_and_changes_nothing(
    client: TestClient, broker: Broker, people: People, runtime: Runtime
) -> None:
    broker.person("ann")
    people.add("helen", "hr", login=False)
    sign_in(client, "helen")
    for bad in ("31/12/2026", "0001-01-05"):
        refused = post_form(
            client,
            "/console/leavers",
            "/console/leavers/events",
            type="resignation",
            employee="ann",
            notice_date=bad,
        )
        assert refused.status_code == 422
        assert "the notice date must be" in refused.text
    assert audit(runtime, "hr.resignation") == []


def test_a_refused_hr_event_shows_the_form_again_with_what_was_typed(
    client: TestClient, broker: Broker, people: People, runtime: Runtime
) -> None:
    people.add("helen", "hr", login=False)
    sign_in(client, "helen")
    for employee, last_day, message in (
        ("nobody-here", "2030-01-31", "nobody-here"),
        ("helen", "", "the last working day"),
    ):
        refused = post_form(
            client,
            "/console/leavers",
            "/console/leavers/events",
            type="resignation",
            employee=employee,
            last_working_date=last_day,
            successor="someone",
        )
        assert refused.status_code == 422
        shown = form_on(refused.text, "/console/leavers/events")
        assert message in shown  # the message is on the form, in the form's words
        assert "last_working_date" not in shown.split('role="alert">')[1].split("</p>")[0]
        assert f'value="{employee}"' in shown
        assert 'value="someone"' in shown
    assert audit(runtime, "hr.resignation") == []


def test_a_staff_member_accepts_the_agreement_in_the_console_before_the_first_request(
    client: TestClient, broker: Broker
) -> None:
    ann = broker.person("ann", accept=False)
    document = broker.upload(broker.customer(ann), title="Plan")
    sign_in(client, "ann")
    assert "confidentiality agreement" in client.get("/console").text
    assert "Accept the" in client.get(f"/console/documents/{document}").text
    accepted = post_form(client, "/console/agreement", "/console/agreement", version=broker.agreement_version)
    assert accepted.status_code == 303
    assert "You have accepted this version." in client.get("/console/agreement").text
    asked = post_form(
        client, f"/console/documents/{document}", f"/console/documents/{document}/request", reason=REASON
    )
    assert "/content/" in client.get(asked.headers["location"]).text


def test_a_request_with_too_short_a_reason_shows_the_form_again(client: TestClient, broker: Broker) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann), title="Plan")
    sign_in(client, "ann")
    refused = post_form(
        client,
        f"/console/documents/{document}",
        f"/console/documents/{document}/request",
        reason="x",
        place="hq",
    )
    assert refused.status_code == 422
    form = form_on(refused.text, f"/console/documents/{document}/request")
    assert "reason" in form.split('role="alert">')[1]
    assert 'value="hq"' in form


def test_security_pages_about_a_person_are_themselves_audited(
    client: TestClient, broker: Broker, runtime: Runtime, clock: FixedClock
) -> None:
    ann = broker.person("ann")
    broker.person("sec", "security")
    Hr(client, broker.people).event(
        employee="ann",
        type="resignation",
        notice_date=clock.now().date().isoformat(),
        last_working_date=(clock.now() + timedelta(days=30)).date().isoformat(),
    )
    document = broker.upload(broker.customer(ann, "=Acme"), title="+plan")
    broker.ask(ann, document)
    sign_in(client, "sec")
    assert client.get("/console/leavers/ann").status_code == 200
    assert client.get("/console/people/ann").status_code == 200
    exported = client.get("/console/leavers/ann/exposure.csv")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.text)))
    named = {(row[0], row[2]) for row in rows[1:]}
    assert named == {("customer", "'=Acme"), ("document", "'+plan")}  # defused, never run as formulas
    viewed = [(e["actor"], e["target"], e["payload"]["page"]) for e in audit(runtime, "audit.viewed")]
    assert viewed == [
        ("sec", "user:ann", "leaver_case"),
        ("sec", "user:ann", "person"),
        ("sec", "user:ann", "leaver_case_csv"),
    ]


def test_the_alert_page_explains_links_evidence_and_takes_assign_and_resolve(
    client: TestClient, broker: Broker, runtime: Runtime, clock: FixedClock
) -> None:
    broker.person("sec", "security")
    broker.person("tess", "security")
    [seq] = add_entries(runtime, [access("ann", clock.now(), honeytoken=True)])
    engine_for(runtime).run_once()
    sign_in(client, "sec")
    home = client.get("/console").text
    assert "honeytoken" in home
    alert_id = home.split('href="/console/alerts/')[1].split('"')[0]
    shown = client.get(f"/console/alerts/{alert_id}").text
    assert f'href="/console/audit/{seq}"' in shown
    entry = client.get(f"/console/audit/{seq}").text
    assert "Previous hash" in entry
    assert "not yet covered by a signed checkpoint" in entry
    assigned = post_form(
        client, f"/console/alerts/{alert_id}", f"/console/alerts/{alert_id}/assign", assignee="tess"
    )
    assert assigned.status_code == 303
    resolved = post_form(
        client,
        f"/console/alerts/{alert_id}",
        f"/console/alerts/{alert_id}/resolve",
        verdict="true_positive",
        reason="confirmed with the manager",
    )
    assert resolved.status_code == 303
    after = client.get(f"/console/alerts/{alert_id}").text
    assert "confirmed with the manager" in after
    assert "badge-true-positive" in after
    assert [e["action"] for e in audit(runtime) if e["action"].startswith("alert.")] == [
        "alert.assign",
        "alert.resolve",
    ]


def test_resolving_without_a_reason_is_refused_and_changes_nothing(
    client: TestClient, broker: Broker, runtime: Runtime, clock: FixedClock
) -> None:
    broker.person("sec", "security")
    add_entries(runtime, [access("ann", clock.now(), honeytoken=True)])
    engine_for(runtime).run_once()
    sign_in(client, "sec")
    alert_id = client.get("/console").text.split('href="/console/alerts/')[1].split('"')[0]
    refused = post_form(
        client,
        f"/console/alerts/{alert_id}",
        f"/console/alerts/{alert_id}/resolve",
        verdict="benign",
        reason=" ",
    )
    assert refused.status_code == 422
    assert "badge-new" in client.get(f"/console/alerts/{alert_id}").text


def test_the_audit_explorer_filters_pages_and_exports_everything_that_matches(
    client: TestClient, broker: Broker, runtime: Runtime, clock: FixedClock
) -> None:
    broker.person("sec", "security")
    add_entries(
        runtime, [access("zed", clock.now() + timedelta(seconds=i), document=f"d{i}") for i in range(120)]
    )
    sign_in(client, "sec")
    first = client.get("/console/audit", params={"actor": "zed"}).text
    assert first.count("<td>zed</td>") == 50
    assert 'rel="next"' in first
    cursor_link = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(cursor_link).text
    assert second.count("<td>zed</td>") == 50
    today, tomorrow = clock.now().date(), (clock.now() + timedelta(days=1)).date()
    since_today = client.get("/console/audit", params={"actor": "zed", "since": today.isoformat()})
    assert since_today.text.count("<td>zed</td>") == 50  # a date alone is that day's midnight, UTC
    later = client.get("/console/audit", params={"actor": "zed", "since": f"{tomorrow.isoformat()} 08:00"})
    assert "No entry matches." in later.text
    exported = client.get("/console/audit/export", params={"actor": "zed"})
    assert exported.status_code == 200
    assert len(exported.text.strip().splitlines()) == 1 + 120  # a header and every entry, no cap
    assert [e["actor"] for e in audit(runtime, "audit.export")] == ["sec"]


def test_hr_sees_each_inbox_file_with_its_outcome_and_row_errors(
    client: TestClient, broker: Broker, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    broker.person("ann")
    people.add("helen", "hr", login=False)
    header = "EmailAddress,ResignationDate,LastWorkingDate,EventType,Successor,EmployeeId\n"
    for name, rows in (
        ("good.csv", "ann@example.com,2026-03-02,2026-03-27,,,\n"),
        ("bad.csv", "nobody@example.com,2026-03-02,2026-03-27,,,\nann@example.com,not-a-date,,,,\n"),
    ):
        import_bytes(
            write=runtime.db.write,
            name=name,
            data=(header + rows).encode(),
            actor="hr-inbox",
            source="inbox",
            hr=runtime.settings.hr,
            policy=runtime.policies.current,
            now=clock.now(),
        )
    sign_in(client, "helen")
    inbox = client.get("/console/leavers").text.split('id="inbox"')[1].split("</section>")[0]
    good, bad = inbox.index("good.csv"), inbox.index("bad.csv")
    assert bad < good  # newest first
    assert "badge-rejected" in inbox[bad:good]
    assert "badge-applied" in inbox[good:]
    assert "row 1" in inbox[bad:good]
    assert "row 2" in inbox[bad:good]


def test_rules_show_their_alerts_and_false_positive_rate(
    client: TestClient, broker: Broker, runtime: Runtime, clock: FixedClock
) -> None:
    sec = broker.person("sec", "security")
    add_entries(runtime, [access(f"p{i}", clock.now(), honeytoken=True) for i in range(2)])
    engine_for(runtime).run_once()
    [first, _] = client.get("/alerts", headers=sec.auth).json()
    resolved = client.post(
        f"/alerts/{first['id']}/resolve",
        json={"verdict": "false_positive", "reason": "a test of the decoy"},
        headers=sec.auth,
    )
    assert resolved.status_code == 200, resolved.text
    sign_in(client, "sec")
    page = client.get("/console/rules").text
    row = page.split(">honeytoken</a>")[1].split("</tr>")[0]
    assert "<td>2</td>" in row  # alerts
    assert "<td>1</td>" in row  # unresolved
    assert "100.0% of 1 judged" in row


def test_an_admin_creates_an_api_key_seen_once_and_revokes_it_in_the_console(
    client: TestClient, broker: Broker, people: People, runtime: Runtime
) -> None:
    people.add("crm", "ingest", login=False)
    people.admin  # noqa: B018 (creates root)
    sign_in(client, "root")
    made = post_form(client, "/console/people/crm", "/console/people/crm/api-keys", name="CRM sync")
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    key = made.text.split('id="api-key">')[1].split("</pre>")[0]
    assert client.get("/me", headers={"Authorization": f"ApiKey {key}"}).status_code == 200
    page = client.get("/console/people/crm").text
    assert key not in page  # shown once only
    key_id = page.split("/console/people/crm/api-keys/")[1].split("/revoke")[0]
    revoked = post_form(
        client, "/console/people/crm", f"/console/people/crm/api-keys/{key_id}/revoke", reason="CRM replaced"
    )
    assert revoked.status_code == 303
    assert client.get("/me", headers={"Authorization": f"ApiKey {key}"}).status_code == 401
    assert [e["actor"] for e in audit(runtime, "apikey.create")] == ["root"]


def test_security_places_and_lifts_a_review_hold_from_the_person_page(
    client: TestClient, broker: Broker, runtime: Runtime
) -> None:
    broker.person("ann")
    broker.person("sec", "security")
    sign_in(client, "sec")
    placed = post_form(
        client, "/console/people/ann", "/console/people/ann/holds", kind="review", reason="checking exports"
    )
    assert placed.status_code == 303
    page = client.get("/console/people/ann").text
    assert "checking exports" in page
    lifted = post_form(
        client, "/console/people/ann", "/console/people/ann/holds/review/lift", reason="exports explained"
    )
    assert lifted.status_code == 303
    assert "No holds." in client.get("/console/people/ann").text
    assert [e["action"] for e in audit(runtime) if e["action"].startswith("user.hold")] == [
        "user.hold",
        "user.hold_lift",
    ]


def test_roles_change_in_the_console_only_when_a_second_admin_confirms(
    client: TestClient, broker: Broker, people: People
) -> None:
    ann = broker.person("ann")
    people.admin  # noqa: B018 (creates root)
    people.add("ada", "admin", login=False)
    sign_in(client, "root")
    proposed = post_form(
        client,
        "/console/people/ann",
        "/console/people/ann/roles",
        roles="approver",
        reason="covers the queue",
    )
    assert proposed.status_code == 303
    page = client.get("/console/people/ann").text
    assert "root proposed approver" in page
    change_id = page.split("/console/people/ann/roles/")[1].split("/confirm")[0]
    own = post_form(client, "/console/people/ann", f"/console/people/ann/roles/{change_id}/confirm")
    assert own.status_code == 403  # the proposer cannot confirm
    roles_now = client.get(f"/users/{ann.id}", headers=people.admin.auth).json()["roles"]
    assert roles_now == ["staff"]
    client.cookies.clear()
    sign_in(client, "ada")
    confirmed = post_form(client, "/console/people/ann", f"/console/people/ann/roles/{change_id}/confirm")
    assert confirmed.status_code == 303
    assert client.get(f"/users/{ann.id}", headers=people.admin.auth).json()["roles"] == ["approver"]
