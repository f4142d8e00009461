"""Tell people what they need to know (a colleague resigned, an alert fired) and mirror it to a webhook."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from guard.db import transaction
from guard.notifications.models import Notification, WebhookMessage
from guard.people.models import User

log = logging.getLogger("guard.notifications")


def notify(
    *,
    session: Session,
    recipients: Iterable[str],
    kind: str,
    subject: str,
    body: str,
    data: dict[str, Any],
    now: datetime,
) -> list[Notification]:
    """Store one notification per recipient (usernames; unknown or duplicate names are skipped) and queue one
    webhook message listing them all."""
    names = list(dict.fromkeys(r for r in recipients if r))
    users = session.scalars(select(User).where(User.username.in_(names))).all() if names else []
    created = [
        Notification(recipient_id=u.id, kind=kind, subject=subject, body=body, data=data, created_at=now)
        for u in users
    ]
    session.add_all(created)
    session.add(
        WebhookMessage(
            payload={
                "kind": kind,
                "subject": subject,
                "body": body,
                "data": data,
                "recipients": sorted(u.username for u in users),
                "created_at": now.isoformat(),
            },
            created_at=now,
            next_attempt_at=now,
        )
    )
    session.flush()
    return created


def list_for(
    *, session: Session, user_id: str, unread_only: bool = False, limit: int = 100
) -> list[Notification]:
    query = select(Notification).where(Notification.recipient_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query.order_by(Notification.created_at.desc(), Notification.id).limit(limit)))


def mark_read(*, session: Session, user_id: str, notification_id: str, now: datetime) -> Notification:
    from guard.errors import NotFound

    note = session.get(Notification, notification_id)
    if note is None or note.recipient_id != user_id:
        raise NotFound(f"no notification {notification_id!r} for you")
    note.read_at = note.read_at or now
    return note


def deliver_webhooks(
    *,
    read: sessionmaker[Session],
    write: sessionmaker[Session],
    url: str | None,
    now: datetime,
    timeout: float = 5.0,
    max_backoff: float = 300.0,
    batch_size: int = 50,
) -> int:
    """Send due outbox messages in order. The HTTP calls happen outside any transaction, so a slow or dead
    receiver never holds a database lock; a failure backs off exponentially. Without a URL the outbox only
    records (messages stay for inspection). Returns how many were delivered."""
    if not url:
        return 0
    with read() as session:
        pending = [
            (m.id, m.payload, m.attempts, m.next_attempt_at)
            for m in session.scalars(
                select(WebhookMessage)
                .where(WebhookMessage.delivered_at.is_(None))
                .order_by(WebhookMessage.id)
                .limit(batch_size)
            )
        ]
    delivered = 0
    with httpx.Client(timeout=timeout) as client:
        for message_id, payload, attempts, next_attempt_at in pending:
            if next_attempt_at > now:
                break  # the oldest undelivered message is backing off; later ones wait to keep order
            error: str | None = None
            try:
                client.post(url, json={"id": message_id, **payload}).raise_for_status()
            except httpx.HTTPError as exc:
                error = str(exc)[:500] or type(exc).__name__
            with transaction(write) as session:
                values: dict[str, Any] = {"attempts": attempts + 1}
                if error is None:
                    values["delivered_at"] = now
                else:
                    values["last_error"] = error
                    values["next_attempt_at"] = now + timedelta(
                        seconds=min(max_backoff, 2.0 ** (attempts + 1))
                    )
                session.execute(
                    update(WebhookMessage).where(WebhookMessage.id == message_id).values(**values)
                )
            if error is not None:
                log.warning("webhook delivery failed", extra={"outbox_id": message_id, "error": error})
                break
            delivered += 1
    return delivered
