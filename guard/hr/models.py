"""HR lifecycle records: the events HR sent, each departure, the leaver watchlist and the handover checklist.

Handover items name customers and documents by id without a foreign key: the checklist is a record of
what was handed over and must survive whatever later happens to the broker's rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guard.db import Base, IdColumn, UTCDateTime, new_id


class HrEvent(Base):
    """One event as HR sent it (API, inbox file or CLI) with what applying it did."""

    __tablename__ = "hr_events"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    employee_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    type: Mapped[str] = mapped_column(String(16))  # resignation | termination | withdrawal
    notice_date: Mapped[date | None] = mapped_column(Date)
    last_working_date: Mapped[date | None] = mapped_column(Date)
    successor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # 1, 2, 3... per employee, assigned under the employee's row lock: orders events even when the
    # clock does not move, so "the same event twice" means the same as the employee's latest event.
    employee_seq: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))  # "api", "cli" or "inbox:<file name>"
    actor: Mapped[str] = mapped_column(String(200))
    applied: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("employee_id", "employee_seq"),)


class Departure(Base):
    """A resignation or termination: scheduled until the last working day ends, then departed (or
    withdrawn before that). Once departed it is the archive record with its exposure summary."""

    __tablename__ = "hr_departures"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[str] = mapped_column(ForeignKey("hr_events.id"))
    type: Mapped[str] = mapped_column(String(16))  # resignation | termination
    state: Mapped[str] = mapped_column(String(16))  # scheduled | departed | withdrawn
    notice_date: Mapped[date | None] = mapped_column(Date)
    last_working_date: Mapped[date | None] = mapped_column(Date)
    access_ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    successor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    departed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # At departure: exposure totals, what moved to whom, what was revoked and cancelled.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_hr_departures_user_created", "user_id", "created_at"),
        Index("ix_hr_departures_state_access_ends_at", "state", "access_ends_at"),
    )


class WatchlistEntry(Base):
    """A person on notice: open from the resignation until departure or withdrawal."""

    __tablename__ = "hr_watchlist"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    departure_id: Mapped[str] = mapped_column(ForeignKey("hr_departures.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(String(16))  # departed | withdrawn


class Handover(Base):
    """The checklist of a leaver's customers and custody documents for the person taking them over."""

    __tablename__ = "hr_handovers"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    departure_id: Mapped[str] = mapped_column(ForeignKey("hr_departures.id"), index=True)
    leaver_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    # The named successor, else the leaver's manager: whoever receives the customers and acknowledges.
    recipient_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # open | closed | cancelled
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HandoverItem(Base):
    __tablename__ = "hr_handover_items"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    handover_id: Mapped[str] = mapped_column(ForeignKey("hr_handovers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # customer | document
    ref_id: Mapped[str] = mapped_column(IdColumn)
    label: Mapped[str] = mapped_column(String(300))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(1000))
