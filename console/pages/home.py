"""The home page: what each person needs first, by role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import WRITES, GuardRoute, NowDep, RuntimeDep, SessionDep
from console.deps import SignedIn
from console.views import page
from guard import overview
from guard.agreements import service as agreements
from guard.audit.views import record_view
from guard.notifications import service as notifications
from guard.types import Role

router = APIRouter(route_class=GuardRoute, include_in_schema=False)


@router.get("/console", openapi_extra=WRITES)
def home(request: Request, me: SignedIn, session: SessionDep, runtime: RuntimeDep, now: NowDep) -> Response:
    security = me.has_any(Role.SECURITY)
    on_notice = (
        overview.people_on_notice(session, today=now.date()) if me.has_any(Role.SECURITY, Role.HR) else []
    )
    context: dict[str, Any] = {
        "customers": overview.customers_owned_by(session, me.user_id),
        "agreement_due": not agreements.has_accepted(
            session=session, user_id=me.user_id, version=runtime.agreements.current.version
        ),
        "notifications": notifications.list_for(session=session, user_id=me.user_id, unread_only=True)[:20],
        "on_notice": on_notice,
        "alerts": overview.open_alerts_by_severity(session) if security else None,
        "latest": overview.latest_open_alerts(session) if security else [],
        "per_day": overview.alerts_per_day(session, until=now) if security else None,
        "integrity": overview.integrity(session, witness=runtime.witness) if security else None,
    }
    if security:  # the home page shows audit facts about leavers: who looked, and when, is on record
        record_view(
            session=session,
            viewer=me.username,
            page="home",
            subject="console:home",
            now=now,
            people_on_notice=[row.username for row in on_notice][:100],
        )
    return page(request, "home.html", principal=me, title="Home", **context)
