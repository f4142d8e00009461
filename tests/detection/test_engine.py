"""The engine on the committed audit stream: alerts with evidence, responses, restarts, isolation."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from guard.audit.models import AuditEntry
from guard.clock import FixedClock
from guard.detection.models import DetectionCursor, DisabledRule
from guard.detection.rulestore import RuleStore
from guard.notifications.models import Notification
from guard.people.models import User
from guard.policies.rules.frequency import Frequency
from guard.runtime import Runtime, build_runtime
from tests.broker.helpers import Broker
from tests.detection.helpers import (
    access,
    add_entries,
    alerts,
    audit_actions,
    engine_for,
    rules_dir,
    set_status,
)
from tests.support.people import People
from tests.support.settings import guard_settings

TEN_MINUTES = [timedelta(minutes=m) for m in range(10)]


def test_a_leaver_downloading_ten_documents_in_ten_minutes_is_alerted_and_suspended(
    client: TestClient, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    broker = Broker(client, people)
    sec = broker.person("sec", "security")
    people.add("boss", login=False)
    ann = people.add("ann", manager="boss")
    broker.accept(ann)
    customer = broker.customer(ann)
    documents = [broker.upload(customer, title=f"Plan {i}") for i in range(11)]
    set_status(runtime, "ann", "notice")
    for document in documents[:10]:
        broker.ask(ann, document, "download")  # refused by the notice profile, and recorded
        clock.advance(timedelta(minutes=1))
    with runtime.db.read() as session:
        seqs = list(session.scalars(select(AuditEntry.seq).where(AuditEntry.action == "access.download")))
    assert len(seqs) == 10

    engine_for(runtime).run_once()

    [alert] = alerts(runtime, rule="leaver-bulk-download")
    assert (alert.severity, alert.username) == ("critical", "ann")
    assert alert.evidence == seqs
    assert (alert.observed, alert.threshold, alert.window_seconds) == (10, 10, 3600)
    assert alert.summary == "on notice: ann: 10 items within 1h (threshold 10)"
    assert [r["response"] for r in alert.responses] == ["notify", "suspend"]
    # Suspended: the very next request is refused.
    assert broker.ask_response(ann, documents[10]).status_code == 401
    with runtime.db.read() as session:
        assert session.scalars(select(User.status).where(User.username == "ann")).one() == "suspended"
        notified = session.scalars(
            select(User.username)
            .join(Notification, Notification.recipient_id == User.id)
            .where(Notification.kind == "alert")
        ).all()
    assert sorted(set(notified)) == ["boss", "sec"]
    # The security team sees it explained, next to the burst of refusals it also was.
    listed = client.get("/alerts", params={"user": "ann"}, headers=sec.auth).json()
    assert {a["rule"] for a in listed} == {"leaver-bulk-download", "denied-burst"}
    leaver = next(a for a in listed if a["rule"] == "leaver-bulk-download")
    assert leaver["evidence"] == seqs
    assert "detection.response" in audit_actions(runtime, "detection.")
    assert "user.hold" in audit_actions(runtime, "user.hold")


def test_touching_a_decoy_puts_every_further_request_on_hold(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    broker = Broker(client, people)
    ann, sec = broker.person("ann"), broker.person("sec", "security")
    customer = broker.customer(ann)
    decoy = broker.upload(customer, honeytoken="true", by=sec)
    ordinary = broker.upload(customer)
    assert broker.ask(ann, decoy)["status"] == "granted"  # a decoy looks like any document

    engine_for(runtime).run_once()

    [alert] = alerts(runtime, rule="honeytoken")
    assert [r["response"] for r in alert.responses] == ["notify", "require_approval"]
    answer = broker.ask(ann, ordinary)
    assert (answer["status"], answer["rule"]) == ("pending", "review_required")


def test_the_engine_audits_alerts_but_never_the_entries_it_reads(runtime: Runtime, clock: FixedClock) -> None:
    add_entries(runtime, [access("ann", clock.now() + timedelta(minutes=i)) for i in range(50)])
    with runtime.db.read() as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
    engine = engine_for(runtime)
    assert engine.run_once().alerts == 0
    assert engine.run_once().entries == 0
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
        assert session.scalar(select(DetectionCursor.seq)) == before


def test_a_restart_in_the_middle_of_a_stream_neither_misses_nor_doubles_alerts(
    runtime: Runtime, clock: FixedClock, tmp_path: Path
) -> None:
    store = RuleStore(
        rules_dir(
            tmp_path,
            extra={
                "five.yaml": "name: five\ntype: frequency\nseverity: high\nsuppress_for: 30m\n"
                "filters: {actions: [access.download]}\noptions: {threshold: 5, window: 10m}\n"
            },
        )
    )
    t0 = clock.now()
    minute = timedelta(minutes=1)
    first = [access("ann", t0 + i * minute) for i in range(7)]  # alert at the 5th
    first += [access("bob", t0 + i * minute) for i in range(3)]  # bob: 3 before the restart...
    second = [access("bob", t0 + (4 + i) * minute) for i in range(2)]  # ...2 after: alert needs the replay
    second += [access("ann", t0 + (8 + i) * minute) for i in range(5)]  # still suppressed (30m)
    second += [access("ann", t0 + (40 + i) * minute) for i in range(5)]  # after suppression: alert
    seqs_first = add_entries(runtime, first)
    assert engine_for(runtime, store).run_once().alerts == 1

    seqs_second = add_entries(runtime, second)
    restarted = engine_for(runtime, RuleStore(store.directory), batch_size=3)  # a new process
    assert restarted.run_once().alerts == 2
    assert restarted.run_once().alerts == 0

    got = [(a.username, a.trigger_seq) for a in alerts(runtime)]
    ann_fifth, bob_fifth, ann_late_fifth = seqs_first[4], seqs_second[1], seqs_second[11]
    assert got == [("ann", ann_fifth), ("bob", bob_fifth), ("ann", ann_late_fifth)]
    [bob_alert] = alerts(runtime, username="bob")
    assert bob_alert.evidence == [*seqs_first[7:10], *seqs_second[:2]]


def test_two_engines_on_one_cursor_do_not_double_alerts(runtime: Runtime, clock: FixedClock) -> None:
    first, second = engine_for(runtime), engine_for(runtime)
    add_entries(runtime, [access("ann", clock.now(), status="notice", honeytoken=True)])
    assert first.run_once().alerts == 1
    add_entries(runtime, [access("bob", clock.now(), honeytoken=True)])
    # The second engine finds the cursor moved under it, rebuilds its state, then goes on.
    second.run_once()
    second.run_once()
    first.run_once()
    assert sorted(a.username for a in alerts(runtime, rule="honeytoken")) == ["ann", "bob"]


def test_a_rule_that_raises_is_disabled_audited_and_the_others_go_on(
    runtime: Runtime, clock: FixedClock, client: TestClient, people: People
) -> None:
    sec = people.add("sec", "security")
    engine = engine_for(runtime)
    engine.run_once()  # builds the state
    assert engine._detector is not None
    slot = next(s for s in engine._detector._slots if s.loaded.name == "bulk-download")

    class Broken(Frequency):
        def observe(self, event):  # type: ignore[no-untyped-def]
            raise KeyError("no such field")

    slot.rule = Broken(slot.rule.config)
    add_entries(runtime, [access("ann", clock.now(), honeytoken=True)])
    assert engine.run_once().alerts == 1  # the honeytoken rule still works
    assert audit_actions(runtime, "detection.rule_failed") == ["detection.rule_failed"]
    with runtime.db.read() as session:
        disabled = session.get(DisabledRule, "bulk-download")
    assert disabled is not None
    assert "KeyError" in disabled.error
    listed = {r["name"]: r for r in client.get("/rules", headers=sec.auth).json()["rules"]}
    assert listed["bulk-download"]["active"] is False
    assert "KeyError" in listed["bulk-download"]["disabled_reason"]
    assert listed["honeytoken"]["active"] is True
    # A restart keeps it off (same file) without failing and auditing again.
    add_entries(runtime, [access("bob", clock.now() + timedelta(seconds=1))])
    restarted = engine_for(runtime, RuleStore(runtime.rules.directory))
    restarted.run_once()
    assert restarted._detector is not None
    assert "bulk-download" not in restarted._detector.active
    assert audit_actions(runtime, "detection.rule_failed") == ["detection.rule_failed"]


def test_repeats_within_suppress_for_raise_one_alert(runtime: Runtime, clock: FixedClock) -> None:
    engine = engine_for(runtime)
    for minute in range(5):
        add_entries(runtime, [access("ann", clock.now() + timedelta(minutes=minute), honeytoken=True)])
        engine.run_once()
    add_entries(runtime, [access("ann", clock.now() + timedelta(hours=2), honeytoken=True)])
    engine.run_once()
    assert len(alerts(runtime, rule="honeytoken")) == 2


def test_alerts_appear_from_the_background_job_while_serving(
    runtime: Runtime, clock: FixedClock, guard_home: Path, db_url: str
) -> None:
    settings = guard_settings(guard_home, db_url, background_workers=True)
    assert settings.background_workers
    served = build_runtime(settings, clock=clock)
    with TestClient(create_app(runtime=served)):
        [seq] = add_entries(served, [access("ann", clock.now(), honeytoken=True)])
        deadline = time.monotonic() + 20
        while not alerts(served) and time.monotonic() < deadline:
            time.sleep(0.05)
    served.close()
    assert [a.trigger_seq for a in alerts(runtime)] == [seq]


def test_new_evidence_extends_the_open_alert_of_the_episode(runtime: Runtime, clock: FixedClock) -> None:
    engine = engine_for(runtime)
    first = add_entries(runtime, [access("ann", clock.now(), honeytoken=True)])
    engine.run_once()
    second = add_entries(
        runtime, [access("ann", clock.now() + timedelta(minutes=20), document="d2", honeytoken=True)]
    )
    assert engine.run_once().alerts == 0
    [alert] = alerts(runtime, rule="honeytoken")
    assert alert.evidence == [*first, *second]
    assert (alert.extensions, alert.status) == (1, "new")
    assert alert.last_event_ts == clock.now() + timedelta(minutes=20)
    assert {"d1", "d2"} <= set(alert.details["document_ids"])  # what the first finding named stays
    assert "(+1 later:" in alert.summary
    assert audit_actions(runtime, "detection.alert") == ["detection.alert", "detection.alert_extended"]
    # Evidence keeps extending the episode while it goes on, past the first hour.
    add_entries(runtime, [access("ann", clock.now() + timedelta(minutes=70), honeytoken=True)])
    engine.run_once()
    [alert] = alerts(runtime, rule="honeytoken")
    assert alert.extensions == 2


def test_after_a_resolution_a_repeat_waits_for_the_next_episode(
    runtime: Runtime, clock: FixedClock, client: TestClient, people: People
) -> None:
    sec = people.add("sec", "security")
    engine = engine_for(runtime)
    add_entries(runtime, [access("ann", clock.now(), honeytoken=True)])
    engine.run_once()
    [alert] = alerts(runtime, rule="honeytoken")
    resolved = client.post(
        f"/alerts/{alert.id}/resolve", json={"verdict": "benign", "reason": "a drill"}, headers=sec.auth
    )
    assert resolved.status_code == 200
    add_entries(runtime, [access("ann", clock.now() + timedelta(minutes=10), honeytoken=True)])
    engine.run_once()
    [again] = alerts(runtime, rule="honeytoken")
    assert (again.extensions, again.status) == (0, "resolved")
    add_entries(runtime, [access("ann", clock.now() + timedelta(hours=3), honeytoken=True)])
    engine.run_once()
    assert [a.status for a in alerts(runtime, rule="honeytoken")] == ["resolved", "new"]
