from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
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
    status: Mapped[str] = mapped_column(String(16), default="active")
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    # End of the last working day once HR reports a departure: from then on every credential is refused,
    # whether or not the departure sweep has run yet.
    access_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by a detection response: every further access request needs an approval; says why.
    approval_required_reason: Mapped[str | None] = mapped_column(String(500))
    password_hash: Mapped[str | None] = mapped_column(String(255))
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
