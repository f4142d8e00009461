from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from guard.db import Base, IdColumn, UTCDateTime, new_id


class Document(Base):
    """Metadata only; the bytes live encrypted in the vault under the document's id."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    classification: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    custodian_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))  # of the plaintext, checked by `guard vault scrub`
    honeytoken: Mapped[bool] = mapped_column(Boolean, default=False)
    # A honeytoken's cover: the ordinary people shown as its author and custodian to everyone but security
    # and admins, so a reader cannot tell a decoy from a document. Null on every other document.
    cover_author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    cover_custodian_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
