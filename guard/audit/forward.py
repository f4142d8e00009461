"""SIEM forwarding: each configured forwarder sends new entries in seq order from a persisted position, then
the signed checkpoints of what it delivered, so the SIEM is a witness of the log as well.

The position moves only after a batch was delivered, and is stored in `audit_forwarder_positions`, so a
restart neither loses nor repeats entries. A failing receiver is retried with exponential backoff (on the
runtime clock). Forwarders run as leader-only background jobs, never in the request path: a dead
receiver costs requests nothing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from guard.audit.checkpoints import Checkpoint
from guard.audit.models import AuditCheckpoint, ForwarderPosition
from guard.audit.search import ENTRIES, entry_view
from guard.audit.transports import DeliveryError, SyslogTransport, Transport, WebhookTransport
from guard.clock import Clock
from guard.db import Database, transaction
from guard.errors import ConfigError
from guard.keys import SigningKey
from guard.settings import ForwarderSettings

log = logging.getLogger("guard.audit.forward")

FIRST_BACKOFF_SECONDS = 1.0
MAX_BATCHES_PER_RUN = 50  # then yield the thread; the next run carries on


class Forwarder:
    def __init__(
        self,
        config: ForwarderSettings,
        *,
        db: Database,
        clock: Clock,
        transport: Transport,
        max_backoff_seconds: float,
    ) -> None:
        self.config = config
        self.name = config.name
        self.db = db
        self.clock = clock
        self.transport = transport
        self.max_backoff = max_backoff_seconds
        self.failures = 0
        self.retry_at: datetime | None = None

    def run_once(self) -> int:
        """Deliver what is pending (bounded per run); returns how many entries were delivered."""
        if self.retry_at is not None and self.clock.now() < self.retry_at:
            return 0
        delivered = 0
        for _ in range(MAX_BATCHES_PER_RUN):
            position = self.position()
            entries = self._pending(after=position)
            if not entries:
                break
            try:
                self.transport.send(entries)
            except DeliveryError as exc:
                if exc.delivered:
                    self._advance(entries[exc.delivered - 1]["seq"])
                    delivered += exc.delivered
                self._back_off(str(exc))
                return delivered
            self._advance(entries[-1]["seq"])
            delivered += len(entries)
        try:
            self._send_checkpoints()
        except DeliveryError as exc:
            self._back_off(str(exc))
            return delivered
        self.failures, self.retry_at = 0, None
        return delivered

    def _send_checkpoints(self) -> None:
        """Signed checkpoints of entries already delivered, in order, each once: the SIEM keeps a witness
        of the log of its own."""
        with transaction(self.db.read) as session:
            delivered_seq, after = session.execute(
                select(ForwarderPosition.delivered_seq, ForwarderPosition.delivered_checkpoint).where(
                    ForwarderPosition.name == self.name
                )
            ).one()
            rows = session.scalars(
                select(AuditCheckpoint)
                .where(AuditCheckpoint.id > after, AuditCheckpoint.size <= delivered_seq)
                .order_by(AuditCheckpoint.id)
                .limit(self.config.batch_size)
            ).all()
        if not rows:
            return
        self.transport.send_checkpoints([Checkpoint.from_row(row).as_json() for row in rows])
        with transaction(self.db.write) as session:
            session.execute(
                update(ForwarderPosition)
                .where(
                    ForwarderPosition.name == self.name, ForwarderPosition.delivered_checkpoint < rows[-1].id
                )
                .values(delivered_checkpoint=rows[-1].id, updated_at=self.clock.now())
            )

    def position(self) -> int:
        """The last seq delivered; creates the row (at 0: everything is still to send) on first use."""
        with transaction(self.db.read) as session:
            stored = session.scalar(
                select(ForwarderPosition.delivered_seq).where(ForwarderPosition.name == self.name)
            )
        if stored is not None:
            return int(stored)
        try:
            with transaction(self.db.write) as session:
                session.add(
                    ForwarderPosition(
                        name=self.name, delivered_seq=0, delivered_checkpoint=0, updated_at=self.clock.now()
                    )
                )
        except IntegrityError:
            pass  # another worker created it a moment ago
        return 0

    def _pending(self, *, after: int) -> list[dict[str, Any]]:
        c = ENTRIES.c
        with transaction(self.db.read) as session:
            rows = session.execute(
                select(c.seq, c.ts, c.actor, c.action, c.target, c.body, c.hash)
                .where(c.seq > after)
                .order_by(c.seq)
                .limit(self.config.batch_size)
            ).all()
        return [
            entry_view(r.seq, r.body, r.hash, ts=r.ts, actor=r.actor, action=r.action, target=r.target)
            for r in rows
        ]

    def _advance(self, seq: int) -> None:
        with transaction(self.db.write) as session:
            session.execute(
                update(ForwarderPosition)
                .where(ForwarderPosition.name == self.name, ForwarderPosition.delivered_seq < seq)
                .values(delivered_seq=seq, updated_at=self.clock.now())
            )

    def _back_off(self, reason: str) -> None:
        self.failures += 1
        delay = min(self.max_backoff, FIRST_BACKOFF_SECONDS * 2 ** (self.failures - 1))
        delay *= random.uniform(0.8, 1.0)  # spread retries of several workers over time
        self.retry_at = self.clock.now() + timedelta(seconds=delay)
        log.warning(
            "audit forwarding failed; will retry",
            extra={
                "forwarder": self.name,
                "failures": self.failures,
                "retry_in_s": round(delay, 1),
                "reason": reason,
            },
        )

    def close(self) -> None:
        self.transport.close()


def check_forwarders(configs: Sequence[ForwarderSettings]) -> None:
    names = [c.name for c in configs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"audit forwarder names must be unique; repeated: {', '.join(duplicates)}")
    for config in configs:
        if not config.name.strip() or len(config.name) > 100:
            raise ConfigError("every audit forwarder needs a name of 1 to 100 characters")
        if config.kind == "webhook":
            parts = urlsplit(config.url or "")
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"audit forwarder {config.name!r} needs an http(s) url for its webhook")
        elif not config.host or not 0 < config.port < 65536:
            raise ConfigError(
                f"audit forwarder {config.name!r} needs a syslog host and a port from 1 to 65535"
            )


def build_forwarders(
    configs: Sequence[ForwarderSettings],
    *,
    db: Database,
    clock: Clock,
    log_id: str,
    signing: SigningKey,
    max_backoff_seconds: float,
) -> list[Forwarder]:
    check_forwarders(configs)

    def transport(config: ForwarderSettings) -> Transport:
        if config.kind == "webhook":
            return WebhookTransport(config, log_id=log_id, signing=signing)
        return SyslogTransport(config)

    return [
        Forwarder(
            config, db=db, clock=clock, transport=transport(config), max_backoff_seconds=max_backoff_seconds
        )
        for config in configs
    ]
