"""Access requests (a granted request is its own grant), approvals and the quota counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guard.db import Base, IdColumn, UTCDateTime, new_id


class AccessRequest(Base):
    """One decision on one request to view, download or export. When granted it is also the grant the
    content token is bound to: the bytes can be collected once, until `grant_until`."""

    __tablename__ = "access_requests"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    requester_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), index=True)
    # Exports: every document and customer in the archive (None for a single document).
    document_ids: Mapped[list[str] | None] = mapped_column(JSON)
    customer_ids: Mapped[list[str] | None] = mapped_column(JSON)
    customer_id: Mapped[str | None] = mapped_column(IdColumn)
    classification: Mapped[str] = mapped_column(String(16))  # exports: the highest in the archive
    honeytoken: Mapped[bool] = mapped_column(Boolean, default=False)
    in_portfolio: Mapped[bool] = mapped_column(Boolean, default=False)
    person_status: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # granted pending denied rejected expired cancelled
    rule: Mapped[str] = mapped_column(String(40))
    explanation: Mapped[str] = mapped_column(String(500))
    views_left: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(1000))
    place: Mapped[str | None] = mapped_column(String(200))
    client: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pending_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approvals_required: Mapped[int] = mapped_column(Integer, default=0)
    approvals: Mapped[int] = mapped_column(Integer, default=0)
    # The grant: collectable until grant_until with the content token whose id is token_jti.
    grant_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_jti: Mapped[str | None] = mapped_column(String(32))
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_bytes: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_access_requests_requester_created", "requester_id", "created_at"),
        Index("ix_access_requests_status_pending_until", "status", "pending_until"),
    )

    @property
    def documents(self) -> list[str]:
        return list(self.document_ids or ([self.document_id] if self.document_id else []))

    def target(self) -> str:
        return f"export:{self.id}" if self.action == "export" else f"document:{self.document_id}"

    def document_payload(self) -> dict[str, Any]:
        if self.action == "export":
            return {"document_ids": self.documents, "customer_ids": list(self.customer_ids or [])}
        return {"document_id": self.document_id, "customer_id": self.customer_id}


class AccessApproval(Base):
    """One approver's verdict on one pending request; a person gives at most one per request."""

    __tablename__ = "access_approvals"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(ForeignKey("access_requests.id"))
    approver_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    verdict: Mapped[str] = mapped_column(String(16))  # approve | reject
    note: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("request_id", "approver_id"),)


class AccessCounter(Base):
    """Looks used per person, document, action and counting period ('lifetime' or a window start)."""

    __tablename__ = "access_counters"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    action: Mapped[str] = mapped_column(String(16), primary_key=True)
    period: Mapped[str] = mapped_column(String(40), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)
