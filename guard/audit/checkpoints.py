"""Signed checkpoints: `(log id, size, head hash, time)` signed with the audit Ed25519 key.

Each checkpoint is stored in `audit_checkpoints` and appended to the witness file, which lives outside the
database: someone who can rewrite the tables cannot make the signed statements in the witness agree with
a shortened or rewritten chain, because they do not hold the private key.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.chain import format_ts
from guard.audit.log import HEAD_ID
from guard.audit.models import AuditCheckpoint, AuditHead
from guard.audit.witness import Witness
from guard.db import Database, transaction
from guard.keys import KID_PATTERN, SigningKey

log = logging.getLogger("guard.audit")

STATEMENT_TAG = b"guard-checkpoint-v1\x00"


@dataclass(frozen=True)
class Checkpoint:
    log_id: str
    size: int
    head_hash: str
    ts: datetime
    kid: str
    signature: str  # base64 of the 64-byte Ed25519 signature

    def statement(self) -> bytes:
        return statement_bytes(log_id=self.log_id, size=self.size, head_hash=self.head_hash, ts=self.ts)

    def as_json(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "size": self.size,
            "head_hash": self.head_hash,
            "ts": format_ts(self.ts),
            "kid": self.kid,
            "signature": self.signature,
        }

    @property
    def identity(self) -> tuple[str, int, str, str, str, str]:
        return (self.log_id, self.size, self.head_hash, format_ts(self.ts), self.kid, self.signature)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        """Raises ValueError (or KeyError/TypeError) when the line is not a checkpoint."""
        size = data["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError("size must be a positive integer")
        ts = datetime.fromisoformat(str(data["ts"]))
        if ts.tzinfo is None:
            raise ValueError("ts needs a timezone")
        return cls(
            log_id=str(data["log_id"]),
            size=size,
            head_hash=str(data["head_hash"]),
            ts=ts,
            kid=str(data["kid"]),
            signature=str(data["signature"]),
        )

    @classmethod
    def from_row(cls, row: AuditCheckpoint) -> Checkpoint:
        return cls(row.log_id, row.size, row.head_hash, row.ts, row.kid, row.signature)


def statement_bytes(*, log_id: str, size: int, head_hash: str, ts: datetime) -> bytes:
    body = {"head_hash": head_hash, "log_id": log_id, "size": size, "ts": format_ts(ts)}
    return STATEMENT_TAG + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def signature_problem(checkpoint: Checkpoint, public_keys: dict[str, Ed25519PublicKey]) -> str | None:
    """None when the signature verifies with the named key, else why not."""
    key = public_keys.get(checkpoint.kid)
    if key is None:
        return f"signed with unknown key {checkpoint.kid!r}"
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        key.verify(signature, checkpoint.statement())
    except (InvalidSignature, ValueError):
        return f"its signature does not verify with key {checkpoint.kid}"
    return None


def load_public_keys(folder: Path) -> dict[str, Ed25519PublicKey]:
    """Every `<kid>.pub` in `folder` (the keys dir's `audit/`): all anyone needs to check checkpoints."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in sorted(folder.glob("*.pub")):
        if not KID_PATTERN.match(path.stem):
            continue
        try:
            key = serialization.load_pem_public_key(path.read_bytes())
        except ValueError:
            log.warning("unreadable audit public key", extra={"path": str(path)})
            continue
        if isinstance(key, Ed25519PublicKey):
            keys[path.stem] = key
    return keys


def sign(*, signing: SigningKey, log_id: str, size: int, head_hash: str, ts: datetime) -> Checkpoint:
    statement = statement_bytes(log_id=log_id, size=size, head_hash=head_hash, ts=ts)
    signature = base64.b64encode(signing.private.sign(statement)).decode()
    return Checkpoint(log_id, size, head_hash, ts, signing.kid, signature)


def latest_checkpoint(*, session: Session) -> AuditCheckpoint | None:
    return session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc(), AuditCheckpoint.id.desc()).limit(1)
    ).first()


def checkpoint_due(*, session: Session, every_entries: int, every_seconds: int, now: datetime) -> bool:
    """New entries exist and either `every_entries` of them or `every_seconds` have passed."""
    head_seq = session.execute(select(AuditHead.seq).where(AuditHead.id == HEAD_ID)).scalar_one_or_none()
    if not head_seq:
        return False
    last = latest_checkpoint(session=session)
    if last is None:
        return True
    if head_seq <= last.size:
        return False
    return head_seq - last.size >= every_entries or now - last.ts >= timedelta(seconds=every_seconds)


def create_checkpoint(
    *, session: Session, signing: SigningKey, log_id: str, now: datetime
) -> Checkpoint | None:
    """Sign the current head and store it; None when the log is still empty. The caller commits."""
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)).one_or_none()
    if head is None or head.seq == 0:
        return None
    checkpoint = sign(signing=signing, log_id=log_id, size=head.seq, head_hash=head.hash, ts=now)
    session.add(
        AuditCheckpoint(
            log_id=checkpoint.log_id,
            size=checkpoint.size,
            head_hash=checkpoint.head_hash,
            ts=checkpoint.ts,
            kid=checkpoint.kid,
            signature=checkpoint.signature,
        )
    )
    session.flush()
    return checkpoint


def keep(checkpoint: Checkpoint, witness: Witness) -> None:
    witness.append(orjson.dumps(checkpoint.as_json()))


def catch_up_witness(
    *, session: Session, witness: Witness, public_keys: dict[str, Ed25519PublicKey], log_id: str
) -> int:
    """Append stored checkpoints the witness lacks (a crash between commit and append).

    Only checkpoints whose signature verifies are copied, so nothing forged reaches the witness."""
    newest = witness.last()
    witnessed_size = 0
    if newest is not None:
        try:
            witnessed_size = Checkpoint.from_json(orjson.loads(newest)).size
        except (ValueError, KeyError, TypeError):
            witnessed_size = 0
    missing = session.scalars(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.size > witnessed_size, AuditCheckpoint.log_id == log_id)
        .order_by(AuditCheckpoint.size, AuditCheckpoint.id)
    ).all()
    copied = 0
    for row in missing:
        checkpoint = Checkpoint.from_row(row)
        if signature_problem(checkpoint, public_keys) is None:
            keep(checkpoint, witness)
            copied += 1
    return copied


def checkpoint_now(
    *,
    db: Database,
    signing: SigningKey,
    public_keys: dict[str, Ed25519PublicKey],
    log_id: str,
    witness: Witness,
    now: datetime,
    every_entries: int | None = None,
    every_seconds: int | None = None,
) -> Checkpoint | None:
    """One unit of work: sign the head if due (always, without limits), store it, then witness it.

    The witness line is written after the commit, so it never names a head the database does not have."""
    with transaction(db.read) as session:
        catch_up_witness(session=session, witness=witness, public_keys=public_keys, log_id=log_id)
        if every_entries is not None and every_seconds is not None:
            due = checkpoint_due(
                session=session, every_entries=every_entries, every_seconds=every_seconds, now=now
            )
            if not due:
                return None
    with transaction(db.write) as session:
        checkpoint = create_checkpoint(session=session, signing=signing, log_id=log_id, now=now)
    if checkpoint is not None:
        keep(checkpoint, witness)
    return checkpoint
