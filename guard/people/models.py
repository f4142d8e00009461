from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from guard.db import Base, IdColumn, UTCDateTime, new_id


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    employee_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    department: Mapped[str] = mapped_column(String(120), default="")
    manager_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Moved only by HR events and the departure sweep: active -> notice -> departed (withdrawal: back).
    lifecycle: Mapped[str] = mapped_column(String(16), default="active")
    # Derived from the lifecycle and the active holds by guard.people.holds.refresh_state, never set
    # directly: departed > suspended > notice > active. Kept as a column so every check reads one field.
    status: Mapped[str] = mapped_column(String(16), default="active")
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    # End of the last working day once HR reports a departure: from then on every credential is refused,
    # whether or not the departure sweep has run yet.
    access_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Derived like `status`: the reason of the newest active `review` hold (every request needs approval).
    approval_required_reason: Mapped[str | None] = mapped_column(String(500))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Set by an admin's reset: the person must choose a new password before doing anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who made the key (an admin, possibly for someone else; None for keys made on the host), when it
    # stops working by itself, when it was last used (to the minute), and who revoked it and why.
    created_by: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoke_reason: Mapped[str | None] = mapped_column(String(500))


class UserHold(Base):
    """A restriction stacked on top of the lifecycle: `suspended` (no access at all) or `review` (every
    request needs an approver). Lifting it records who and why; the row stays as history."""

    __tablename__ = "user_holds"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    alert_id: Mapped[str | None] = mapped_column(IdColumn, index=True)  # when a detection rule set it
    lifted_by: Mapped[str | None] = mapped_column(String(64))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lift_reason: Mapped[str | None] = mapped_column(String(500))


class RoleChange(Base):
    """A change to the roles that see or change everything (admin, security): proposed by one admin and
    applied only when a second one confirms it (or on the host with `guard users grant`)."""

    __tablename__ = "role_changes"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    from_roles: Mapped[list[str]] = mapped_column(JSON)
    to_roles: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(500))
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending, then confirmed, rejected, expired, or stale (the roles changed meanwhile)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(500))
