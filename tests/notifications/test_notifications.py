"""Notifications are stored per recipient, listed to their owner only, and reach a real webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from fastapi.testclient import TestClient

from guard.clock import FixedClock
from guard.daemons import deliver_webhooks
from guard.db import transaction
from guard.notifications.service import notify
from guard.runtime import Runtime
from tests.support.live import free_port
from tests.support.people import People


class Receiver:
    """A real HTTP server on 127.0.0.1 collecting JSON posts; can be stopped and restarted on its port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[dict[str, object]] = []
        self.server: HTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["content-length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def send(runtime: Runtime, recipients: list[str], subject: str) -> None:
    with transaction(runtime.db.write) as session:
        notify(
            session=session,
            recipients=recipients,
            kind="test",
            subject=subject,
            body="b",
            data={"k": 1},
            now=runtime.clock.now(),
        )


def test_each_recipient_sees_only_their_own(client: TestClient, people: People, runtime: Runtime) -> None:
    ann, bob = people.add("ann"), people.add("bob")
    send(runtime, ["ann", "bob", "ann", "nobody"], "hello both")
    send(runtime, ["bob"], "only bob")
    assert [n["subject"] for n in client.get("/notifications", headers=ann.auth).json()] == ["hello both"]
    bobs = client.get("/notifications", headers=bob.auth).json()
    assert sorted(n["subject"] for n in bobs) == ["hello both", "only bob"]
    assert client.post(f"/notifications/{bobs[0]['id']}/read", headers=ann.auth).status_code == 404
    assert client.post(f"/notifications/{bobs[0]['id']}/read", headers=bob.auth).json()["read_at"]
    assert len(client.get("/notifications?unread=true", headers=bob.auth).json()) == 1


def test_webhook_outbox_survives_a_dead_receiver_and_delivers_each_once(
    settings,
    clock: FixedClock,
    people: People,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    from guard.runtime import build_runtime

    people.add("ann", login=False)
    rt = build_runtime(
        settings.model_copy(
            update={
                "notifications": settings.notifications.model_copy(
                    update={"webhook_url": receiver.url, "timeout_seconds": 1.0}
                )
            }
        ),
        clock=clock,
    )
    send(rt, ["ann"], "first")
    deliver_webhooks(rt)  # receiver not started: the message stays queued
    assert receiver.received == []
    receiver.start()
    send(rt, ["ann"], "second")
    deliver_webhooks(rt)  # backing off: not due yet
    assert receiver.received == []
    clock.advance(timedelta(seconds=5))
    deliver_webhooks(rt)
    deliver_webhooks(rt)
    assert [m["subject"] for m in receiver.received] == ["first", "second"]
    assert receiver.received[0]["recipients"] == ["ann"]
    rt.close()
