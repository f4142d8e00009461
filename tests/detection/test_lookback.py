"""Look-back: the rules over one person's recent past, raising alerts marked lookback."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guard.audit.models import AuditEntry
from guard.clock import FixedClock
from guard.db import transaction
from guard.detection.lookback import queue_lookback, run_queued
from guard.detection.models import LookbackRequest
from guard.errors import InvalidInput
from guard.hr.inbox.importer import import_bytes
from guard.runtime import Runtime
from tests.detection.helpers import access, add_entries, alerts, audit_actions, engine_for
from tests.hr.helpers import Hr
from tests.support.people import People

RESIGNATION = {"type": "resignation", "notice_date": "2026-03-02", "last_working_date": "2026-03-27"}


def burst(actor: str, start, n: int = 70):  # type: ignore[no-untyped-def]
    return [access(actor, start + timedelta(seconds=20 * i), document=f"d{i}") for i in range(n)]


def look_back(runtime: Runtime, username: str, *, days: int = 90) -> list[str]:
    """Queue a look-back and run the queue as the engine does; the ids of the alerts it raised."""
    now = runtime.clock.now()
    with transaction(runtime.db.write) as session:
        request = queue_lookback(
            session=session, username=username, days=days, as_leaver=False, source="test", now=now
        )
        request_id = request.id
    assert run_queued(db=runtime.db, rules=runtime.rules.current(now), now=now) == 1
    with runtime.db.read() as session:
        return list(session.get_one(LookbackRequest, request_id).alerts or [])


def test_lookback_finds_what_happened_in_the_period_for_that_person_only(
    runtime: Runtime, clock: FixedClock, people: People
) -> None:
    people.add("sec", "security", login=False)
    now = clock.now()
    recent = add_entries(runtime, burst("ann", now - timedelta(days=20)))
    add_entries(runtime, burst("ann", now - timedelta(days=100)))  # before the period
    add_entries(runtime, burst("bob", now - timedelta(days=10)))  # someone else
    ids = look_back(runtime, "ann")

    [alert] = alerts(runtime)
    assert alert.id in ids
    assert (alert.rule, alert.username, alert.lookback) == ("bulk-download", "ann", True)
    assert alert.trigger_seq == recent[59]  # the 60th download in the hour
    assert alert.evidence == recent[:60]
    # Only the notice goes out: enforcement is not applied to the past.
    assert [r["response"] for r in alert.responses] == ["notify"]
    assert audit_actions(runtime, "detection.") == [
        "detection.alert",
        "detection.response",
        "detection.lookback",
    ]


def test_running_lookback_twice_raises_nothing_new(runtime: Runtime, clock: FixedClock) -> None:
    now = clock.now()
    add_entries(runtime, burst("ann", now - timedelta(days=3)))
    for expected in (1, 0):
        assert len(look_back(runtime, "ann")) == expected
    assert len(alerts(runtime, lookback=True)) == 1


def test_lookback_days_must_be_sensible(runtime: Runtime, clock: FixedClock) -> None:
    with transaction(runtime.db.write) as session, pytest.raises(InvalidInput):
        queue_lookback(
            session=session, username="ann", days=0, as_leaver=False, source="test", now=clock.now()
        )


def test_lookback_notifies_but_does_not_suspend(runtime: Runtime, clock: FixedClock, people: People) -> None:
    ann = people.add("ann")
    now = clock.now()
    add_entries(
        runtime,
        [
            access("ann", now - timedelta(days=3, minutes=i), document=f"d{i}", status="notice")
            for i in range(10)
        ],
    )
    [alert_id] = look_back(runtime, "ann")
    [alert] = alerts(runtime, id=alert_id)
    assert alert.rule == "leaver-bulk-download"
    assert [r["response"] for r in alert.responses] == ["notify"]
    assert people.client.get("/me", headers=ann.auth).status_code == 200


def weeks_of_work(actor: str, end, *, weeks: int, per_week: int):  # type: ignore[no-untyped-def]
    """`per_week` downloads in each of the `weeks` weeks before `end`, as an ordinary working rhythm."""
    entries = [
        access(actor, end - timedelta(weeks=w, hours=3 * i), document=f"w{w}-{i}")
        for w in range(2, weeks + 2)
        for i in range(per_week)
    ]
    return sorted(entries, key=lambda entry: entry["ts"])


def test_a_resignation_finds_data_taken_in_the_weeks_before_it(
    client: TestClient, runtime: Runtime, clock: FixedClock, people: People
) -> None:
    people.add("ann", login=False)
    now = clock.now()
    add_entries(runtime, weeks_of_work("ann", now, weeks=10, per_week=2))
    taken = add_entries(
        runtime,
        [
            access("ann", now - timedelta(days=6) + timedelta(hours=5 * i), document=f"t{i}")
            for i in range(25)
        ],
    )

    answer = Hr(client, people).event(employee="ann", **RESIGNATION)

    assert "lookback:queued over 90 days" in answer["applied"]
    assert alerts(runtime, rule="leaver-taking-before-resigning") == []
    assert engine_for(runtime).run_lookbacks() == 1
    [alert] = alerts(runtime, rule="leaver-taking-before-resigning")
    assert (alert.username, alert.lookback, alert.severity) == ("ann", True, "high")
    assert set(alert.evidence) <= set(taken)
    sec = people.add("sec", "security")
    from_lookbacks = client.get("/alerts", params={"lookback": "true"}, headers=sec.auth).json()
    assert alert.id in [a["id"] for a in from_lookbacks]
    assert all(a["lookback"] for a in from_lookbacks)
    live = client.get("/alerts", params={"lookback": "false"}, headers=sec.auth).json()
    assert alert.id not in [a["id"] for a in live]


def test_a_heavy_users_ordinary_weeks_before_resigning_raise_nothing(
    client: TestClient, runtime: Runtime, clock: FixedClock, people: People
) -> None:
    people.add("ann", login=False)
    now = clock.now()
    add_entries(runtime, weeks_of_work("ann", now + timedelta(weeks=1), weeks=11, per_week=15))

    Hr(client, people).event(employee="ann", **RESIGNATION)
    assert engine_for(runtime).run_lookbacks() == 1

    assert alerts(runtime, rule="leaver-taking-before-resigning") == []


def test_an_hr_file_of_resignations_queues_one_look_back_each_and_the_engine_runs_them(
    tmp_path: Path, runtime: Runtime, clock: FixedClock, people: People
) -> None:
    names = [f"rep{i:02d}" for i in range(30)]
    for name in names:
        people.add(name, login=False)
    now = clock.now()
    add_entries(runtime, weeks_of_work("rep07", now, weeks=10, per_week=2))
    taken = add_entries(
        runtime,
        [
            access("rep07", now - timedelta(days=6) + timedelta(hours=5 * i), document=f"t{i}")
            for i in range(25)
        ],
    )
    rows = "".join(f"{n}@example.com,2026-03-02,2026-03-27,,,\n" for n in names)
    file = tmp_path / "resignations.csv"
    file.write_text("EmailAddress,ResignationDate,LastWorkingDate,EventType,Successor,EmployeeId\n" + rows)
    with runtime.db.write() as session:
        before = session.scalar(select(func.max(AuditEntry.seq)))

    applied = import_bytes(
        write=runtime.db.write,
        name=file.name,
        data=file.read_bytes(),
        actor="hr-inbox",
        source="inbox",
        hr=runtime.settings.hr,
        policy=runtime.policies.current,
        now=now,
    )
    assert applied.accepted, applied.errors

    with runtime.db.read() as session:
        queued = list(session.scalars(select(LookbackRequest).order_by(LookbackRequest.username)))
        lookbacks_in_import = session.scalar(
            select(func.count()).where(
                AuditEntry.seq > (before or 0), AuditEntry.action == "detection.lookback"
            )
        )
    assert [(r.username, r.done_at) for r in queued] == [(n, None) for n in names]
    assert lookbacks_in_import == 0
    engine = engine_for(runtime)
    done = 0
    while step := engine.run_lookbacks():
        done += step
    assert done == 30
    [alert] = alerts(runtime, rule="leaver-taking-before-resigning")
    assert (alert.username, alert.lookback) == ("rep07", True)
    assert set(alert.evidence) <= set(taken)
    assert audit_actions(runtime, "detection.lookback").count("detection.lookback") == 30


def test_the_look_back_does_not_raise_again_what_an_alert_already_covers(
    client: TestClient, runtime: Runtime, clock: FixedClock, people: People
) -> None:
    people.add("ann", login=False)
    add_entries(runtime, [access("ann", clock.now() - timedelta(days=2), honeytoken=True)])
    engine = engine_for(runtime)
    engine.run_once()
    [live] = alerts(runtime, rule="honeytoken")

    Hr(client, people).event(employee="ann", **RESIGNATION)
    engine.run_once()

    assert [a.id for a in alerts(runtime, rule="honeytoken")] == [live.id]
