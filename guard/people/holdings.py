"""Passing everything one person holds of one kind (customers they own, documents they keep) to another."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from guard.audit.log import record
from guard.people.models import User


def pass_on(
    *,
    session: Session,
    holder: InstrumentedAttribute[str] | InstrumentedAttribute[str | None],
    from_user_id: str,
    to_user_id: str,
    actor: str,
    action: str,
    moved_key: str,
    now: datetime,
    also: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every row whose `holder` column names one person now names the other, in one audited statement.
    Returns the ids of the rows moved; nothing is recorded when there were none."""
    model: Any = holder.class_
    moved = list(session.scalars(select(model.id).where(holder == from_user_id)))
    if moved:
        session.execute(
            update(model)
            .where(holder == from_user_id)
            .values({holder.key: to_user_id, **(also or {})})
            .execution_options(synchronize_session=False)
        )
        giver, taker = session.get(User, from_user_id), session.get(User, to_user_id)
        record(
            session=session,
            actor=actor,
            action=action,
            target=f"user:{giver.username if giver else from_user_id}",
            payload={moved_key: moved, "to": taker.username if taker else to_user_id},
            ts=now,
        )
    return moved
