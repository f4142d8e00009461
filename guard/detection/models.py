from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from guard.db import Base, IdColumn, UTCDateTime, new_id


class Alert(Base):
    """A rule's finding about one person, with what it counted and the entries that made it fire."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    rule: Mapped[str] = mapped_column(String(100))
    rule_type: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16))
    username: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="new")
    summary: Mapped[str] = mapped_column(String(1000))
    threshold: Mapped[float] = mapped_column(Float)
    observed: Mapped[float] = mapped_column(Float)
    window_seconds: Mapped[int | None] = mapped_column(Integer)
    evidence: Mapped[list[int]] = mapped_column(JSON, default=list)
    trigger_seq: Mapped[int] = mapped_column(BigInteger)
    event_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    lookback: Mapped[bool] = mapped_column(Boolean, default=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    responses: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verdict: Mapped[str | None] = mapped_column(String(20))
    # The latest note; the whole history is in alert_notes.
    note: Mapped[str | None] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(String(64))
    # An episode: later evidence for the same person and rule extends the unresolved alert.
    last_event_ts: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extensions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index("ix_alerts_status_created_at", "status", "created_at"),
        Index("ix_alerts_assignee_status", "assignee", "status"),
        Index("ix_alerts_username_created_at", "username", "created_at"),
        Index("ix_alerts_rule_username", "rule", "username"),
    )


class AlertNote(Base):
    """One line of an alert's history (a note, a review, an assignment, a resolution); never changed."""

    __tablename__ = "alert_notes"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"))
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, ... in the alert's history
    kind: Mapped[str] = mapped_column(String(20))
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("uq_alert_notes_alert_id_position", "alert_id", "position", unique=True),)


class DetectionCursor(Base):
    """The last audit seq the engine has fully processed; moves in the same transaction as its alerts."""

    __tablename__ = "detection_cursor"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DisabledRule(Base):
    """A rule that raised: kept off until its file changes (new digest), not failing again on every start."""

    __tablename__ = "detection_disabled_rules"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(BigInteger)
    disabled_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TeamWatch(Base):
    """A colleague of a departure wave, judged by the leaver rules until `until` (set by `watch_team`)."""

    __tablename__ = "team_watches"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"))
    reason: Mapped[str] = mapped_column(String(500))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LookbackRequest(Base):
    """A look-back asked for (by a resignation, say) and run by the detection engine afterwards, so the
    scan of weeks of entries never happens inside the asking transaction."""

    __tablename__ = "detection_lookbacks"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(200))
    days: Mapped[int] = mapped_column(Integer)
    as_leaver: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(200))  # what asked for it, e.g. hr_event:<id>
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alerts: Mapped[list[str] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_detection_lookbacks_done_at_requested_at", "done_at", "requested_at"),)
