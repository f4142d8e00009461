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
from tests.detection.helpers import access, add_entries, alerts, engine_for
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
