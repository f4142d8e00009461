"""The caller's notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import GuardRoute, NowDep, PrincipalDep, SessionDep
from guard.notifications import service
from guard.notifications.models import Notification

router = APIRouter(tags=["notifications"], route_class=GuardRoute)


class NotificationOut(BaseModel):
    id: str
    kind: str
    subject: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


def _out(note: Notification) -> NotificationOut:
    return NotificationOut(
        id=note.id,
        kind=note.kind,
        subject=note.subject,
        body=note.body,
        data=note.data,
        created_at=note.created_at,
        read_at=note.read_at,
    )


@router.get("/notifications", response_model=list[NotificationOut])
def list_notifications(
    principal: PrincipalDep, session: SessionDep, unread: bool = False
) -> list[NotificationOut]:
    return [_out(n) for n in service.list_for(session=session, user_id=principal.user_id, unread_only=unread)]


@router.post("/notifications/{notification_id}/read", response_model=NotificationOut)
def mark_read(
    notification_id: str, principal: PrincipalDep, session: SessionDep, now: NowDep
) -> NotificationOut:
    return _out(
        service.mark_read(
            session=session, user_id=principal.user_id, notification_id=notification_id, now=now
        )
    )
