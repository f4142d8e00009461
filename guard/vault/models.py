"""Sealed document blobs kept in the database (the `database` blob store): append-only, like the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from guard.db import Base, UTCDateTime


class VaultBlob(Base):
    """One document's sealed blob (guard.vault.envelope), written in the transaction of its document row."""

    __tablename__ = "vault_blobs"

    document_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VaultObjectDigest(Base):
    """The SHA-256 of a document's sealed blob kept in S3 (the `s3` blob store), written in the document's
    transaction: `guard vault scrub` checks every object against it. Append-only."""

    __tablename__ = "vault_object_digests"

    document_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)
