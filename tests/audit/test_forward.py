"""Forwarding to real local receivers: a dead receiver loses nothing and nothing arrives twice."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from guard.audit.checkpoints import Checkpoint, signature_problem
from guard.audit.forward import Forwarder, build_forwarders, check_forwarders
from guard.audit.models import ForwarderPosition
from guard.clock import FixedClock
from guard.errors import ConfigError
from guard.runtime import Runtime
from guard.settings import ForwarderSettings
from tests.audit.helpers import append, checkpoint
from tests.audit.receivers import Received, TcpSyslog, UdpSyslog, Webhook, free_port

MAX_BACKOFF = 30.0


def forwarder(runtime: Runtime, config: ForwarderSettings) -> Forwarder:
    """What the leader's job runs (built fresh, as after a restart)."""
    [built] = build_forwarders(
        [config],
        db=runtime.db,
        clock=runtime.clock,
        log_id=runtime.settings.audit.log_id,
        signing=runtime.keyring.audit_signing,
        max_backoff_seconds=MAX_BACKOFF,
    )
    return built


def outage_drill(
    runtime: Runtime, clock: FixedClock, config: ForwarderSettings, start: Callable[[Received], Any]
) -> Received:
    received = Received()
    receiver = start(received)
    sender = forwarder(runtime, config)
    append(runtime, 5)
    assert sender.run_once() == 5
    assert received.wait_for(5) == [1, 2, 3, 4, 5]

    receiver.stop()
    append(runtime, 7)
    assert sender.run_once() == 0  # refused: backs off, position stays at 5
    receiver = start(received)
    assert sender.run_once() == 0  # still backing off: the receiver is not hammered
    clock.advance(timedelta(seconds=MAX_BACKOFF + 1))
    assert sender.run_once() == 7
    sender.close()

    restarted = forwarder(runtime, config)  # a new leader, or the server restarted
    append(runtime, 3)
    assert restarted.run_once() == 3
    assert restarted.run_once() == 0
    assert received.wait_for(15) == list(range(1, 16))  # every entry, in order, exactly once
    restarted.close()
    receiver.stop()
    with runtime.db.read() as session:
        assert (
            session.scalar(
                select(ForwarderPosition.delivered_seq).where(ForwarderPosition.name == config.name)
            )
            == 15
        )
    return received


def test_syslog_over_udp_survives_a_receiver_outage(runtime: Runtime, clock: FixedClock) -> None:
    port = free_port(socket.SOCK_DGRAM)
    config = ForwarderSettings(name="siem-udp", kind="syslog", host="127.0.0.1", port=port, protocol="udp")
    received = outage_drill(runtime, clock, config, lambda r: UdpSyslog(port, r))
    assert received.messages[0].startswith(b"<110>1 2026-03-02T09:00:00.000000+00:00 ")


def test_syslog_over_tcp_survives_a_receiver_outage(runtime: Runtime, clock: FixedClock) -> None:
    port = free_port()
    config = ForwarderSettings(name="siem-tcp", kind="syslog", host="127.0.0.1", port=port, protocol="tcp")
    received = outage_drill(runtime, clock, config, lambda r: TcpSyslog(port, r))
    assert b' actor="ann" ' in received.messages[0]


def test_webhook_survives_a_receiver_outage_and_signs_its_bodies(runtime: Runtime, clock: FixedClock) -> None:
    port = free_port()
    bodies: list[dict[str, Any]] = []
    config = ForwarderSettings(name="soc", kind="webhook", url=f"http://127.0.0.1:{port}/guard", batch_size=4)
    outage_drill(runtime, clock, config, lambda r: Webhook(port, r, bodies))
    first = bodies[0]
    assert first["json"]["log_id"] == runtime.settings.audit.log_id
    assert [e["seq"] for e in first["json"]["entries"]] == [1, 2, 3, 4]  # batches of batch_size
    kid, signature = (part.split("=", 1)[1] for part in first["headers"]["x-guard-signature"].split("; "))
    runtime.keyring.audit_public[kid].verify(base64.b64decode(signature), first["raw"])  # raises if forged


def test_a_webhook_answering_errors_is_retried_without_losing_entries(
    runtime: Runtime, clock: FixedClock
) -> None:
    port = free_port()  # nothing listens here yet
    config = ForwarderSettings(name="soc", kind="webhook", url=f"http://127.0.0.1:{port}/guard")
    sender = forwarder(runtime, config)
    append(runtime, 3)
    for _ in range(3):  # the backoff grows but stays bounded
        assert sender.run_once() == 0
        clock.advance(timedelta(seconds=MAX_BACKOFF + 1))
    received = Received()
    receiver = Webhook(port, received, [])
    try:
        assert sender.run_once() == 3
        assert received.wait_for(3) == [1, 2, 3]
    finally:
        receiver.stop()
        sender.close()


@pytest.mark.parametrize("kind", ["syslog", "webhook"])
def test_signed_checkpoints_reach_the_siem_after_the_entries_they_cover(runtime: Runtime, kind: str) -> None:
    port = free_port()
    received = Received()
    if kind == "webhook":
        config = ForwarderSettings(name="soc", kind="webhook", url=f"http://127.0.0.1:{port}/guard")
        receiver: Any = Webhook(port, received, [])
    else:
        config = ForwarderSettings(name="siem", kind="syslog", host="127.0.0.1", port=port, protocol="tcp")
        receiver = TcpSyslog(port, received)
    sender = forwarder(runtime, config)
    try:
        append(runtime, 4)
        first = checkpoint(runtime)
        append(runtime, 2)
        assert sender.run_once() == 6
        received.wait_for(6)
        deadline = time.monotonic() + 10
        while not received.checkpoints and time.monotonic() < deadline:
            time.sleep(0.05)
        [statement] = received.checkpoints
        assert statement == first.as_json()
        assert signature_problem(Checkpoint.from_json(statement), runtime.keyring.audit_public) is None
        second = checkpoint(runtime)
        assert sender.run_once() == 0  # no new entries, yet the new checkpoint goes out, once
        assert sender.run_once() == 0
        deadline = time.monotonic() + 10
        while len(received.checkpoints) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        assert [c["size"] for c in received.checkpoints] == [first.size, second.size]
    finally:
        receiver.stop()
        sender.close()


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"name": "a", "kind": "webhook"}, "url"),
        ({"name": "a", "kind": "webhook", "url": "ftp://x"}, "url"),
        ({"name": "a", "kind": "syslog", "port": 0}, "port"),
    ],
)
def test_misconfigured_forwarders_are_refused(config: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        check_forwarders([ForwarderSettings(**config)])


def test_two_forwarders_may_not_share_a_name() -> None:
    config = ForwarderSettings(name="same", kind="syslog")
    with pytest.raises(ConfigError, match="unique"):
        check_forwarders([config, config])
