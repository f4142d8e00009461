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
