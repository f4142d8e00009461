"""Shipped rules for what leavers do beyond downloads: bulk viewing on notice, and vault tampering."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from guard.audit.log import record
from guard.clock import FixedClock
from guard.db import transaction
from guard.notifications.models import Notification
from guard.people.models import User
from guard.runtime import Runtime
from tests.detection.helpers import access, add_entries, alerts, audit_actions, engine_for
from tests.support.people import People


def test_a_leaver_viewing_eighty_documents_at_once_is_alerted(runtime: Runtime, clock: FixedClock) -> None:
    start = clock.now()
    views = [
        access(
            "ann",
            start + timedelta(milliseconds=10 * n),
            action="view",
            document=f"d{n}",
            customer=f"c{n % 11}",
            status="notice",
        )
        for n in range(80)
    ]
    seqs = add_entries(runtime, views)

    engine_for(runtime).run_once()

    [alert] = alerts(runtime, rule="leaver-bulk-view")
    assert (alert.username, alert.severity) == ("ann", "high")
    assert alert.threshold == 25
    assert set(alert.evidence) <= set(seqs)
    assert [r["response"] for r in alert.responses] == ["notify", "require_approval"]


def test_an_honest_leaver_reading_for_the_handover_is_not_alerted(
    runtime: Runtime, clock: FixedClock
) -> None:
    start = clock.now()
    # Two documents an hour over a working day, as someone writing handover notes would.
    views = [
        access("ann", start + timedelta(minutes=30 * n), action="view", document=f"d{n}", status="notice")
        for n in range(16)
    ]
    add_entries(runtime, views)

    engine_for(runtime).run_once()

    assert alerts(runtime, rule="leaver-bulk-view") == []


def test_the_same_views_by_someone_not_leaving_raise_no_leaver_alert(
    runtime: Runtime, clock: FixedClock
) -> None:
    start = clock.now()
    add_entries(
        runtime,
        [access("bob", start + timedelta(seconds=n), action="view", document=f"d{n}") for n in range(80)],
    )

    engine_for(runtime).run_once()

    assert alerts(runtime, rule="leaver-bulk-view") == []


def test_vault_tampering_is_a_critical_alert_for_the_security_team(
    people: People, runtime: Runtime, clock: FixedClock
) -> None:
    people.add("sec", "security", login=False)
    with transaction(runtime.db.write) as session:
        record(
            session=session,
            actor="guard",
            action="vault.tamper",
            target="document:d1",
            payload={
                "document_id": "d1",
                "path": "d1.blob",
                "event": "modified",
                "source": "vault-watch",
                "count": 1,
            },
            ts=clock.now(),
        )

    engine_for(runtime).run_once()

    [alert] = alerts(runtime, rule="vault-tamper")
    assert alert.severity == "critical"
    with runtime.db.read() as session:
        told = session.scalars(
            select(User.username)
            .join(Notification, Notification.recipient_id == User.id)
            .where(Notification.kind == "alert")
        ).all()
    assert told == ["sec"]


def working_days(actor: str, start, *, days: int, per_day: int, status: str = "active"):  # type: ignore[no-untyped-def]
    """`per_day` views each weekday from `start`, spread over office hours (never a burst in one hour)."""
    entries = []
    for day in range(days):
        when = start + timedelta(days=day)
        if when.weekday() >= 5:
            continue
        entries += [
            access(
                actor, when + timedelta(minutes=75 * i), action="view", document=f"{day}-{i}", status=status
            )
            for i in range(per_day)
        ]
    return entries


def test_slow_exfiltration_across_the_notice_period_is_alerted(runtime: Runtime, clock: FixedClock) -> None:
    start = clock.now() - timedelta(weeks=10)
    before = working_days("ann", start, days=56, per_day=2)  # eight ordinary weeks
    during = working_days("ann", start + timedelta(days=56), days=14, per_day=6, status="notice")
    earlier = add_entries(runtime, before)
    seqs = add_entries(runtime, during)

    engine_for(runtime).run_once()

    assert alerts(runtime, rule="leaver-bulk-view") == []  # never more than a few an hour
    [alert] = alerts(runtime, rule="leaver-slow-exfiltration")
    assert (alert.username, alert.severity) == ("ann", "high")
    # The evidence is the week that was counted: the notice days in it, and the days before them in the
    # same week (they count towards it), never an older week.
    assert set(alert.evidence) & set(seqs)
    assert set(alert.evidence) <= set(seqs) | set(earlier[-10:])


def test_an_honest_leaver_keeping_their_usual_pace_is_not_alerted(
    runtime: Runtime, clock: FixedClock
) -> None:
    start = clock.now() - timedelta(weeks=10)
    add_entries(runtime, working_days("ann", start, days=56, per_day=4))
    add_entries(runtime, working_days("ann", start + timedelta(days=56), days=14, per_day=5, status="notice"))

    engine_for(runtime).run_once()

    assert alerts(runtime, rule="leaver-slow-exfiltration") == []


def test_a_busy_week_before_the_notice_is_learnt_not_judged(runtime: Runtime, clock: FixedClock) -> None:
    start = clock.now() - timedelta(weeks=10)
    ordinary = working_days("ann", start, days=49, per_day=2)
    quarter_end = working_days("ann", start + timedelta(days=49), days=7, per_day=8)
    add_entries(runtime, ordinary + quarter_end)

    engine_for(runtime).run_once()

    assert alerts(runtime, rule="leaver-slow-exfiltration") == []


def other_customers(actor: str, start, *, days: int, per_day: int, status: str):  # type: ignore[no-untyped-def]
    """`per_day` other reps' customers a weekday, a few hours apart."""
    entries = []
    for day in range(days):
        when = start + timedelta(days=day)
        if when.weekday() >= 5:
            continue
        entries += [
            access(
                actor,
                when + timedelta(hours=9 + 3 * i),
                action="view",
                document=f"o{day}-{i}",
                customer=f"other-{day}-{i}",
                in_portfolio=False,
                decision="pending",
                status=status,
            )
            for i in range(per_day)
        ]
    return entries


def test_a_leaver_reaching_for_other_reps_customers_day_after_day_is_alerted(
    runtime: Runtime, clock: FixedClock
) -> None:
    seqs = add_entries(runtime, other_customers("ann", clock.now(), days=10, per_day=2, status="notice"))

    engine_for(runtime).run_once()

    assert alerts(runtime, rule="leaver-many-customers") == []  # no day stands out
    [alert] = alerts(runtime, rule="leaver-outside-portfolio")
    assert (alert.username, alert.severity, alert.threshold) == ("ann", "high", 10)
    assert alert.observed == len(seqs)  # later days extended the same alert...
    assert set(seqs) <= set(alert.evidence)
    # ...once for the whole batch the engine read, not once per entry.
    assert alert.extensions == 1
    assert audit_actions(runtime, "detection.alert_extended") == ["detection.alert_extended"]
    assert set(alert.evidence) <= set(seqs)


def test_helping_colleagues_now_and_then_is_not_reaching_for_their_customers(
    runtime: Runtime, clock: FixedClock
) -> None:
    # An honest leaver helps with a colleague's account a few times in the notice period...
    add_entries(runtime, other_customers("ann", clock.now(), days=14, per_day=1, status="notice")[:6])
    # ...and a manager who is not leaving reads across the team's customers every day.
    add_entries(runtime, other_customers("max", clock.now(), days=14, per_day=4, status="active"))

    engine_for(runtime).run_once()

    assert alerts(runtime, rule="leaver-outside-portfolio") == []


def rising(actor: str, start, counts: list[int], status: str = "notice"):  # type: ignore[no-untyped-def]
    """Views on consecutive days, `counts[i]` on day i, spread over office hours."""
    return [
        access(
            actor,
            start + timedelta(days=day, hours=8, minutes=int(480 * i / n)),
            action="view",
            document=f"r{day}-{i}",
            status=status,
        )
        for day, n in enumerate(counts)
        for i in range(n)
    ]


def test_a_leaver_taking_more_every_day_is_asked_about(runtime: Runtime, clock: FixedClock) -> None:
    now = clock.now()
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    seqs = add_entries(runtime, rising("ann", monday, [12, 20, 30, 45]))
    add_entries(runtime, rising("bob", monday, [22, 18, 25, 21]))  # an honest leaver's ordinary week

    engine_for(runtime).run_once()

    [alert] = alerts(runtime, rule="leaver-rising-trend")
    assert (alert.username, alert.severity) == ("ann", "medium")
    assert alert.details["run"] == [12, 20, 30, 40]  # 3x the first day and the minimum of 40
    assert set(alert.evidence) <= set(seqs)
