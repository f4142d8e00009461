from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from guard.db import Base, UTCDateTime


class AuditEntry(Base):
    """One link of the chain. `body` is the canonical JSON that was hashed; ts, actor, action and
    target are what it says, kept as columns so searches can use indexes.

    On SQLite those four are virtual generated columns (`SQLITE_ENTRIES_DDL`): the database derives
    them from the body, so they cannot disagree with it, and verify only has to check that the table
    definition is still this one. On PostgreSQL they are stored copies (a generated timestamptz would
    need a user function an attacker could replace) and verify compares them with the body."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_entries_actor_seq", "actor", "seq"),
        Index("ix_audit_entries_action_seq", "action", "seq"),
        Index("ix_audit_entries_target_seq", "target", "seq"),
        Index("ix_audit_entries_ts", "ts"),
    )


# The exact text SQLite keeps for the table (migration 0006 creates it). Inserts name only the stored
# columns: seq, body, prev_hash and hash.
SQLITE_ENTRIES_DDL = """CREATE TABLE audit_entries (
    seq BIGINT NOT NULL,
    ts DATETIME NOT NULL
        GENERATED ALWAYS AS (replace(substr(json_extract(body, '$.ts'), 1, 26), 'T', ' ')) VIRTUAL,
    actor VARCHAR(200) NOT NULL GENERATED ALWAYS AS (json_extract(body, '$.actor')) VIRTUAL,
    action VARCHAR(100) NOT NULL GENERATED ALWAYS AS (json_extract(body, '$.action')) VIRTUAL,
    target VARCHAR(300) NOT NULL GENERATED ALWAYS AS (json_extract(body, '$.target')) VIRTUAL,
    body TEXT NOT NULL,
    prev_hash VARCHAR(64) NOT NULL,
    hash VARCHAR(64) NOT NULL,
    CONSTRAINT pk_audit_entries PRIMARY KEY (seq)
)"""
DERIVED_COLUMNS = ("ts", "actor", "action", "target")


class AuditHead(Base):
    """Exactly one row: the chain head. Appends lock it (PostgreSQL) to assign gap-free seq numbers."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement `(log id, size, head hash, time)`; also appended to the witness file."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    log_id: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    kid: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(200))


class ForwarderPosition(Base):
    """How far each SIEM forwarder has delivered, so a restart neither loses nor repeats entries."""

    __tablename__ = "audit_forwarder_positions"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    delivered_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered_checkpoint: Mapped[int] = mapped_column(BigInteger, default=0)  # audit_checkpoints.id
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
