"""Real local receivers for forwarding tests: a syslog listener (UDP or TCP) and an HTTP webhook endpoint.

Each can be stopped and started again on the same port, as a SIEM that goes down and comes back."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

SD_SEQ = re.compile(rb'\[guard@32473 seq="(\d+)"')
HEADER = re.compile(rb"^<(\d+)>1 \S+ \S+ guard - \S+ \[")


class Received:
    """What arrived, thread-safe: seqs in arrival order plus the raw messages."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seqs: list[int] = []
        self.messages: list[bytes] = []
        self.checkpoints: list[dict[str, Any]] = []

    def add_syslog(self, message: bytes) -> None:
        match = SD_SEQ.search(message)
        assert HEADER.match(message), message[:80]
        body = orjson.loads(message.split(b"\xef\xbb\xbf", 1)[1])
        if body.get("action") == "audit.checkpoint":
            with self.lock:
                self.checkpoints.append(body["checkpoint"])
            return
        assert match is not None, message[:200]
        assert body["seq"] == int(match.group(1))
        with self.lock:
            self.seqs.append(int(match.group(1)))
            self.messages.append(message)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.seqs) >= count:
                    return list(self.seqs)
            time.sleep(0.01)
        with self.lock:
            return list(self.seqs)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UdpSyslog:
    def __init__(self, port: int, received: Received) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.05)
        self.received = received
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            self.received.add_syslog(data)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


class TcpSyslog:
    """Reads octet-counted frames (`LEN SP MSG`) from every connection."""

    def __init__(self, port: int, received: Received) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen()
        self.received = received
        self.connections: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(connection)
            thread = threading.Thread(target=self._read, args=(connection,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _read(self, connection: socket.socket) -> None:
        buffer = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b" " in buffer:
                length_text, rest = buffer.split(b" ", 1)
                length = int(length_text)
                if len(rest) < length:
                    break
                self.received.add_syslog(rest[:length])
                buffer = rest[length:]

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        self.server.close()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        for thread in [self.accepter, *self.threads]:
            thread.join(5)


class Webhook:
    def __init__(self, port: int, received: Received, bodies: list[dict[str, Any]]) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                document = orjson.loads(body)
                outer.bodies.append({"headers": dict(self.headers), "raw": body, "json": document})
                with received.lock:
                    received.seqs.extend(e["seq"] for e in document.get("entries", []))
                    received.checkpoints.extend(document.get("checkpoints", []))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.bodies = bodies
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
