"""People: the directory with roles, status, holds and API keys, and one person's page: lifecycle,
holds (with lift), daily activity against their own usual level with the notice marked, customers touched."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import WRITES, GuardRoute, NowDep, RuntimeDep, SessionDep
from console.deps import FormDep, field
from console.roles import AdminPoster, PeopleViewer, SecurityOrAdminPoster
from console.views import go, page
from guard import overview
from guard.audit.views import record_view
from guard.errors import InvalidInput
from guard.hr import archive
from guard.people import api_keys, holds, roles
from guard.people.service import find_user, list_users
from guard.types import HoldKind, Role

router = APIRouter(route_class=GuardRoute, include_in_schema=False)


@router.get("/console/people")
def directory(request: Request, me: PeopleViewer, session: SessionDep) -> Response:
    users = list_users(session=session)
    held = holds.active_holds(session, user_ids=[u.id for u in users])
    return page(
        request,
        "people.html",
        principal=me,
        title="People",
        users=users,
        held=held,
        alerts=overview.open_alerts_about(session, [u.username for u in users]),
    )


@router.get("/console/people/{username}", openapi_extra=WRITES)
def person(
    username: str, request: Request, me: PeopleViewer, session: SessionDep, runtime: RuntimeDep, now: NowDep
) -> Response:
    user = find_user(session=session, ref=username)
    report = archive.exposure_report(session=session, username=user.username, hr=runtime.settings.hr, now=now)
    window = report["window"]
    notice_at = window["notice_at"]
    # the timeline and the customers touched are audit data about this person
    record_view(session=session, viewer=me.username, page="person", subject=f"user:{user.username}", now=now)
    overseer = me.has_any(Role.SECURITY, Role.ADMIN)
    return page(
        request,
        "person.html",
        principal=me,
        title=user.display_name,
        user=user,
        report=report,
        holds=holds.active_holds(session, user_ids=[user.id])[user.id],
        keys=api_keys.list_api_keys(session=session, user_id=user.id) if me.has_any(Role.ADMIN) else [],
        admin=me.has_any(Role.ADMIN),
        all_roles=[role.value for role in Role],
        role_changes=[
            c for c in roles.list_changes(session=session, status="pending") if c.user_id == user.id
        ]
        if me.has_any(Role.ADMIN)
        else [],
        hold_kinds=[kind.value for kind in HoldKind],
        activity=overview.daily_activity(
            session, username=user.username, until=min(window["to"], now), days=60, notice_at=notice_at
        ),
        notice_day=notice_at.date().isoformat() if notice_at else "",
        overseer=overseer,
        alerts=overview.open_alerts_about(session, [user.username]).get(user.username, 0),
    )


@router.post("/console/people/{username}/holds/{kind}/lift")
def lift(
    username: str,
    kind: str,
    request: Request,
    form: FormDep,
    me: SecurityOrAdminPoster,
    session: SessionDep,
    now: NowDep,
) -> Response:
    user = find_user(session=session, ref=username)
    holds.lift_holds(
        session=session,
        user=user,
        kind=kind,
        actor=me.username,
        reason=field(form, "reason", required=True),
        now=now,
    )
    return go(request, f"/console/people/{user.username}")


@router.post("/console/people/{username}/holds")
def place(
    username: str,
    request: Request,
    form: FormDep,
    me: SecurityOrAdminPoster,
    session: SessionDep,
    now: NowDep,
) -> Response:
    user = find_user(session=session, ref=username)
    holds.place_hold(
        session=session,
        user=user,
        kind=field(form, "kind", required=True, limit=20),
        actor=me.username,
        reason=field(form, "reason", required=True, limit=500),
        now=now,
    )
    return go(request, f"/console/people/{user.username}")


def _expiry(text: str) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError as bad:
        raise InvalidInput("the expiry must be a date such as 2027-06-30") from bad
    return datetime.combine(day, time.min, tzinfo=UTC)


@router.post("/console/people/{username}/api-keys")
def create_key(
    username: str, request: Request, form: FormDep, me: AdminPoster, session: SessionDep, now: NowDep
) -> Response:
    """The key is shown on this answer once and never again (it is not stored, and the page is not cached)."""
    user = find_user(session=session, ref=username)
    key, plaintext = api_keys.create_api_key(
        session=session,
        actor=me.username,
        user_id=user.id,
        name=field(form, "name", required=True, limit=120),
        expires_at=_expiry(field(form, "expires", limit=10)),
        now=now,
    )
    return page(
        request, "api_key.html", principal=me, title="New API key", user=user, key=key, plaintext=plaintext
    )


@router.post("/console/people/{username}/api-keys/{key_id}/revoke")
def revoke_key(
    username: str,
    key_id: str,
    request: Request,
    form: FormDep,
    me: AdminPoster,
    session: SessionDep,
    now: NowDep,
) -> Response:
    user = find_user(session=session, ref=username)
    api_keys.revoke_api_key(
        session=session,
        actor=me.username,
        user_id=user.id,
        key_id=key_id,
        reason=field(form, "reason", required=True, limit=500),
        now=now,
    )
    return go(request, f"/console/people/{user.username}")


@router.post("/console/people/{username}/roles")
def propose_roles(
    username: str, request: Request, form: FormDep, me: AdminPoster, session: SessionDep, now: NowDep
) -> Response:
    """A new set of roles for the person; it takes effect when a second admin confirms it."""
    user = find_user(session=session, ref=username)
    roles.propose(
        session=session,
        actor_id=me.user_id,
        actor=me.username,
        user_id=user.id,
        roles=[value for value in form.getlist("roles") if isinstance(value, str)],
        reason=field(form, "reason", required=True, limit=500),
        now=now,
    )
    return go(request, f"/console/people/{user.username}")


@router.post("/console/people/{username}/roles/{change_id}/{verb}")
def decide_roles(
    username: str,
    change_id: str,
    verb: Literal["confirm", "reject"],
    request: Request,
    form: FormDep,
    me: AdminPoster,
    session: SessionDep,
    now: NowDep,
) -> Response:
    if verb == "confirm":
        roles.confirm(session=session, actor_id=me.user_id, actor=me.username, change_id=change_id, now=now)
    else:
        note = field(form, "note", required=True, limit=500)
        roles.reject(session=session, actor=me.username, change_id=change_id, note=note, now=now)
    return go(request, f"/console/people/{username}")
