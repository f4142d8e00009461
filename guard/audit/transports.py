"""How entries leave for a SIEM: syslog (RFC 5424) over UDP or TCP, or an HTTP(S) JSON webhook.

Every message carries the entry's seq so a receiver can drop duplicates: delivery is at least once
(a batch whose fate is unknown after a failure is sent again).
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
import orjson

from guard.keys import SigningKey
from guard.settings import ForwarderSettings

FACILITY_LOG_AUDIT = 13
SEVERITY_INFO, SEVERITY_NOTICE = 6, 5
SD_ID = "guard@32473"  # 32473: the enterprise number RFC 5612 sets aside for examples and private use
BOM = "\ufeff".encode()
MAX_UDP_MESSAGE = 60_000


class DeliveryError(Exception):
    """Nothing (more) could be delivered; `delivered` entries at the front of the batch did arrive."""

    def __init__(self, message: str, delivered: int = 0) -> None:
        super().__init__(message)
        self.delivered = delivered


class Transport(Protocol):
    def send(self, entries: Sequence[dict[str, Any]]) -> None:
        """Deliver all of `entries` or raise DeliveryError saying how many arrived."""

    def send_checkpoints(self, checkpoints: Sequence[dict[str, Any]]) -> None:
        """Deliver signed checkpoints (`Checkpoint.as_json()`): the SIEM then witnesses the log too."""

    def close(self) -> None: ...


def _printable(value: str, limit: int) -> str:
    cleaned = "".join(ch if 33 <= ord(ch) <= 126 else "_" for ch in value)[:limit]
    return cleaned or "-"


def _sd_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def rfc5424(
    entry: dict[str, Any], *, hostname: str, app_name: str = "guard", limit: int | None = None
) -> bytes:
    """`<PRI>1 TIMESTAMP HOST APP - MSGID [SD] BOM+JSON`; structured data repeats seq, actor, target, hash."""
    failed = entry["action"].endswith(("_failed", "_reuse", ".denied"))
    pri = FACILITY_LOG_AUDIT * 8 + (SEVERITY_NOTICE if failed else SEVERITY_INFO)
    params = " ".join(
        f'{name}="{_sd_value(str(entry[name]))}"'
        for name in ("seq", "actor", "target", "hash", "size", "kid")
        if name in entry
    )
    header = (
        f"<{pri}>1 {entry['ts'] or '-'} {_printable(hostname, 255)} {_printable(app_name, 48)} - "
        f"{_printable(entry['action'], 32)} [{SD_ID} {params}] "
    ).encode()
    message = header + BOM + orjson.dumps(entry)
    if limit is not None and len(message) > limit:
        trimmed = {**entry, "payload": {"truncated": True}}
        message = header + BOM + orjson.dumps(trimmed)
    return message


def checkpoint_message(checkpoint: dict[str, Any]) -> dict[str, Any]:
    return {
        "ts": checkpoint["ts"],
        "action": "audit.checkpoint",
        "target": f"audit:{checkpoint['log_id']}",
        "size": checkpoint["size"],
        "kid": checkpoint["kid"],
        "checkpoint": checkpoint,
    }


class SyslogTransport:
    """One connected socket; TCP frames use octet counting (RFC 6587): `LEN SP MSG`."""

    def __init__(self, config: ForwarderSettings) -> None:
        self.config = config
        self.hostname = socket.gethostname()
        self._sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        if self._sock is not None and not self._peer_closed(self._sock):
            return self._sock
        self.close()
        kind = socket.SOCK_STREAM if self.config.protocol == "tcp" else socket.SOCK_DGRAM
        address = socket.getaddrinfo(self.config.host, self.config.port, type=kind)[0]
        sock = socket.socket(address[0], kind)
        sock.settimeout(self.config.timeout_seconds)
        try:
            sock.connect(address[4])
        except OSError:
            sock.close()
            raise
        self._sock = sock
        return sock

    def _peer_closed(self, sock: socket.socket) -> bool:
        """A TCP peer that went away shows as end-of-file; reconnect instead of writing into the void."""
        if self.config.protocol != "tcp":
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def send(self, entries: Sequence[dict[str, Any]]) -> None:
        try:
            sock = self._connect()
        except OSError as exc:
            raise DeliveryError(f"cannot reach {self.config.host}:{self.config.port}: {exc}") from exc
        if self.config.protocol == "tcp":
            frames = b"".join(
                b"%d %s" % (len(m), m) for m in (rfc5424(e, hostname=self.hostname) for e in entries)
            )
            try:
                sock.sendall(frames)
            except OSError as exc:
                self.close()
                raise DeliveryError(f"the syslog connection failed: {exc}") from exc
            return
        for index, entry in enumerate(entries):
            try:
                sock.send(rfc5424(entry, hostname=self.hostname, limit=MAX_UDP_MESSAGE))
                # A receiver that is not listening answers with ICMP "port unreachable", which shows up
                # as a pending socket error: the datagram was lost and must go again.
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            except OSError as exc:
                self.close()
                raise DeliveryError(f"the syslog receiver refused datagrams: {exc}", index) from exc
            if error:
                self.close()
                raise DeliveryError(f"the syslog receiver refused datagrams (errno {error})", index)

    def send_checkpoints(self, checkpoints: Sequence[dict[str, Any]]) -> None:
        """One message each, MSGID `audit.checkpoint`; no `seq`, so no receiver takes it for an entry."""
        self.send([checkpoint_message(c) for c in checkpoints])

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class WebhookTransport:
    """POST `{"log_id", "entries": [...]}` (or `{"log_id", "checkpoints": [...]}`); any 2xx is delivery.
    The body is signed with the audit key so the receiver can check it came from Guard using the public key
    alone."""

    def __init__(self, config: ForwarderSettings, *, log_id: str, signing: SigningKey) -> None:
        self.config = config
        self.log_id = log_id
        self.signing = signing
        self._client = httpx.Client(timeout=config.timeout_seconds, follow_redirects=False)

    def send(self, entries: Sequence[dict[str, Any]]) -> None:
        self._post({"log_id": self.log_id, "entries": list(entries)})

    def send_checkpoints(self, checkpoints: Sequence[dict[str, Any]]) -> None:
        self._post({"log_id": self.log_id, "checkpoints": list(checkpoints)})

    def _post(self, document: dict[str, Any]) -> None:
        body = orjson.dumps(document)
        signature = base64.b64encode(self.signing.private.sign(body)).decode()
        headers = {
            "content-type": "application/json",
            "x-guard-signature": f"kid={self.signing.kid}; ed25519={signature}",
        }
        try:
            response = self._client.post(str(self.config.url), content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"the webhook {self.config.url} could not be reached: {exc}") from exc
        if not response.is_success:
            raise DeliveryError(f"the webhook {self.config.url} answered {response.status_code}")

    def close(self) -> None:
        self._client.close()
