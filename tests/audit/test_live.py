"""Inside a real `guard serve` with two workers: one of them signs checkpoints and forwards to the SIEM."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import orjson

from tests.audit.receivers import Received, UdpSyslog, free_port
from tests.support.live import live_server
from tests.support.people import PASSWORD, People


def test_the_server_checkpoints_and_forwards_in_the_background(
    postgres_url: str, guard_home: Path, pg_people: People
) -> None:
    pg_people.add("ann", login=False)
    port = free_port(socket.SOCK_DGRAM)
    received = Received()
    receiver = UdpSyslog(port, received)
    siem = orjson.dumps(
        [{"name": "siem", "kind": "syslog", "host": "127.0.0.1", "port": port, "protocol": "udp"}]
    )
    try:
        with live_server(guard_home, postgres_url, workers=2, GUARD_AUDIT__FORWARDERS=siem.decode()) as base:
            for _ in range(3):
                response = httpx.post(f"{base}/auth/login", json={"username": "ann", "password": PASSWORD})
                assert response.status_code == 200
            witness = guard_home / "audit-witness.jsonl"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (witness.exists() and witness.read_text().strip()):
                time.sleep(0.1)
            seqs = received.wait_for(count=5, timeout=20)
    finally:
        receiver.stop()
    lines = [orjson.loads(line) for line in witness.read_bytes().splitlines()]
    assert lines
    assert lines[0]["size"] >= 1
    assert seqs[:5] == [1, 2, 3, 4, 5]  # the admin and ann were created and logged in before the server
    assert len(seqs) == len(set(seqs))  # one leader forwards: nothing twice
