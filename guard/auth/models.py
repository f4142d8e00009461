from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from guard.db import Base, IdColumn, UTCDateTime, new_id


class RefreshToken(Base):
    """Stored hashed. Each use replaces the token; a second use of a replaced one kills its family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    family_id: Mapped[str] = mapped_column(IdColumn, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RevokedAccessToken(Base):
    """Access tokens ended by logout before their expiry (kept until they would have expired)."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class EndedTokenFamily(Base):
    """Sessions (refresh-token families) ended by logout or by the reuse of a replaced refresh token: every
    access token issued in the family is refused from then on, not only its refresh tokens."""

    __tablename__ = "ended_token_families"

    family_id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LoginThrottle(Base):
    """Failed logins of one account or from one client address, in the current window (see
    guard.auth.throttle). One row per key, updated under its row lock, so every worker counts alike."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "user:<name>" or "address:<ip>"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the growing delay
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
