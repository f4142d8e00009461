"""Signing keys kept in the database, so that every host signs and verifies with the same set."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from guard.db import Base, UTCDateTime


class SigningKeyRecord(Base):
    """One Ed25519 key; its private half sealed under the master key (guard.keys.store). The newest key of a
    purpose (highest `id`) signs; a retired JWT key verifies nothing."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kid: Mapped[str] = mapped_column(String(40), unique=True)
    purpose: Mapped[str] = mapped_column(String(8))
    sealed_private: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
