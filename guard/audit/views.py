"""Looking at audit data is itself on record: who opened whose exposure, timeline or evidence, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from guard.audit.log import record

ACTION = "audit.viewed"


def record_view(
    *, session: Session, viewer: str, page: str, subject: str, now: datetime, **detail: Any
) -> None:
    """Stage the entry in the page's own transaction: no page of audit data is shown without it."""
    record(
        session=session,
        actor=viewer,
        action=ACTION,
        target=subject,
        payload={"page": page, **detail},
        ts=now,
    )
