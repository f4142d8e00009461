"""A departure wave through the real API: HR and security are told, the colleagues who stay are watched."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from guard.clock import FixedClock
from guard.notifications.models import Notification
from guard.people.models import User
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.detection.helpers import alerts, audit_actions, engine_for
from tests.hr.helpers import Hr
from tests.support.people import People

RESIGNATION = {"type": "resignation", "notice_date": "2026-03-02", "last_working_date": "2026-04-30"}


def alerted(runtime: Runtime) -> list[str]:
    with runtime.db.read() as session:
        return sorted(
            set(
                session.scalars(
                    select(User.username)
                    .join(Notification, Notification.recipient_id == User.id)
                    .where(Notification.kind == "alert")
                )
            )
        )


def test_three_resignations_in_a_department_make_a_wave_and_the_rest_are_watched(
    client: TestClient, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    broker = Broker(client, people)
    hr = Hr(client, people)
    people.add("sec", "security", login=False)
    people.add("maria", "approver", login=False)
    team = {
        name: broker.person(name, department="Sales North", manager="maria")
        for name in ("ann", "bob", "cid", "dee", "eve")
    }
    people.add("zed", department="Finance", login=False)

    for name in ("ann", "bob"):
        hr.event(employee=name, **RESIGNATION)
    engine_for(runtime).run_once()
    assert alerts(runtime, rule="departure-wave") == []  # two are not a wave

    hr.event(employee="cid", **RESIGNATION)
    engine_for(runtime).run_once()

    [wave] = alerts(runtime, rule="departure-wave")
    assert wave.username == "department:Sales North"
    assert wave.details["leavers"] == ["ann", "bob", "cid"]
    assert {"helen", "sec", "maria"} <= set(alerted(runtime))
    watched = next(r for r in wave.responses if r["response"] == "watch_team")
    assert watched["watched"] == ["dee", "eve"]
    assert audit_actions(runtime, "detection.watch") == ["detection.watch", "detection.watch"]
    shown = client.get(f"/users/{team['dee'].id}", headers=people.admin.auth).json()
    assert shown["watch"]["alert_id"] == wave.id
    assert shown["status"] == "active"
    assert (
        client.get(f"/users/{people.add('xavier', login=False).id}", headers=people.admin.auth).json()[
            "watch"
        ]
        is None
    )

    # A watched colleague is judged by the leaver rules: ten downloads in an hour is an alert for them.
    customer = broker.customer(team["dee"])
    documents = [broker.upload(customer, title=f"Offer {i}") for i in range(10)]
    for document in documents:
        broker.ask(team["dee"], document, "download")
        clock.advance(timedelta(minutes=1))
    engine_for(runtime).run_once()
    [leaver] = alerts(runtime, rule="leaver-bulk-download", username="dee")
    assert leaver.summary.startswith("on watched: dee: 10 items")


def test_the_watch_ends_after_its_time(
    client: TestClient, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    broker = Broker(client, people)
    hr = Hr(client, people)
    team = {name: broker.person(name, department="Sales North") for name in ("ann", "bob", "cid", "dee")}
    for name in ("ann", "bob", "cid"):
        hr.event(employee=name, **RESIGNATION)
    engine_for(runtime).run_once()
    assert len(alerts(runtime, rule="departure-wave")) == 1

    clock.advance(timedelta(days=31))
    people.refresh_admin()
    dee = people.login("dee")
    customer = broker.customer(dee)
    for i in range(10):
        broker.ask(dee, broker.upload(customer, title=f"Offer {i}"), "download")
    engine_for(runtime).run_once()

    assert alerts(runtime, rule="leaver-bulk-download", username="dee") == []
    assert client.get(f"/users/{team['dee'].id}", headers=people.admin.auth).json()["watch"] is None
