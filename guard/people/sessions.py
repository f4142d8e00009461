"""Ending a person's sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from guard.auth.models import RefreshToken
from guard.people.models import User


def revoke_sessions(*, session: Session, user: User, now: datetime) -> None:
    """Every token the person holds stops working on its next use, in every worker."""
    user.token_version += 1
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
