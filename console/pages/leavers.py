"""Leavers, for security and HR: people on notice with their last day and handover, the departures
archive, HR's forms (resignation, termination, withdrawal), turnover by month and department, and the
leaver case: the exposure report by customer and document, the reasons given, as a page or a CSV."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote_plus

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.deps import WRITES, GuardRoute, NowDep, RuntimeDep, SessionDep
from console.deps import FormDep, as_signed_in, field, in_read
from console.roles import HrPoster, ReviewerViewer
from console.views import finish, go, page
from guard import overview
from guard.audit.views import record_view
from guard.auth.service import Principal
from guard.errors import Conflict, InvalidInput, NotFound
from guard.hr import archive
from guard.hr.events import EventInput, EventResult, apply_event
from guard.hr.exposure import exposure_csv
from guard.people.service import find_user
from guard.types import Role

router = APIRouter(route_class=GuardRoute, include_in_schema=False)
EVENT_TYPES = ("resignation", "termination", "withdrawal")


@router.get("/console/leavers")
def leavers(
    request: Request,
    me: ReviewerViewer,
    session: SessionDep,
    now: NowDep,
    applied: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    return _leavers_page(request, me, session, now, outcome=applied)


def _leavers_page(
    request: Request, me: Principal, session: Session, now: datetime, *, status_code: int = 200, **form: Any
) -> Response:
    return page(
        request,
        "leavers.html",
        principal=me,
        status_code=status_code,
        title="Leavers",
        on_notice=overview.people_on_notice(session, today=now.date()),
        departed=archive.list_departures(session=session, state="departed", limit=200),
        turnover=overview.departures_by_month(session),
        inbox=overview.inbox_files(session) if me.has_any(Role.HR) else [],
        hr=me.has_any(Role.HR),
        event_types=EVENT_TYPES,
        today=now.date(),
        **form,
    )


FIELDS = ("type", "employee", "notice_date", "last_working_date", "successor")
# What HR's form calls the fields the domain names in its messages.
LABELS = {"last_working_date": "the last working day", "notice_date": "the notice date"}


def _date(form: FormData, name: str) -> date | None:
    text = field(form, name, limit=10)
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError as bad:
        raise InvalidInput(f"{LABELS[name]} must be a date such as 2026-12-31") from bad
    if not 1970 <= day.year <= 9999:
        raise InvalidInput(f"{LABELS[name]} must be between 1970 and 9999")
    return day


@router.post("/console/leavers/events")
async def hr_event(request: Request, form: FormDep, me: HrPoster) -> Response:
    """The same event as POST /hr/events, from HR's form, in one unit of work. A refused event shows the
    form again with the message and what was typed."""
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    typed = {
        name: field(form, name, limit=254)
        for name in ("type", "employee", "notice_date", "last_working_date", "successor")
    }

    def work(session: Session, principal: Principal) -> EventResult:
        if typed["type"] not in EVENT_TYPES:
            raise InvalidInput(f"choose an event: {', '.join(EVENT_TYPES)}")
        if not typed["employee"]:
            raise InvalidInput("fill in the employee")
        return apply_event(
            session=session,
            actor=principal.username,
            data=EventInput(
                employee=typed["employee"],
                type=typed["type"],
                notice_date=_date(form, "notice_date"),
                last_working_date=_date(form, "last_working_date"),
                successor=typed["successor"] or None,
            ),
            source="console",
            hr=runtime.settings.hr,
            policy=runtime.policies.current,
            now=now,
        )

    try:
        result = await as_signed_in(request, now, work)
    except (InvalidInput, NotFound, Conflict) as refused:
        problem = refused.detail
        for name, label in LABELS.items():
            problem = problem.replace(name, label)
        return await in_read(
            request,
            lambda session: _leavers_page(
                request, me, session, now, status_code=422, error=problem, typed=typed
            ),
        )
    done = f"{result.type} of {result.employee} recorded; status now {result.status}"
    return go(request, f"/console/leavers?applied={quote_plus(done)}")


def _case(
    session: SessionDep, runtime: RuntimeDep, now: NowDep, username: str, viewer: str, page_name: str
) -> dict[str, Any]:
    report = archive.exposure_report(session=session, username=username, hr=runtime.settings.hr, now=now)
    # who looked at whose exposure, and when
    record_view(
        session=session,
        viewer=viewer,
        page=page_name,
        subject=f"user:{username}",
        now=now,
        window=[report["window"]["from"].isoformat(), report["window"]["to"].isoformat()],
    )
    return report


@router.get("/console/leavers/{username}", openapi_extra=WRITES)
def case(
    username: str, request: Request, me: ReviewerViewer, session: SessionDep, runtime: RuntimeDep, now: NowDep
) -> Response:
    report = _case(session, runtime, now, username, me.username, "leaver_case")
    person = find_user(session=session, ref=username)
    window = report["window"]
    notice_at = window["notice_at"]
    activity = overview.daily_activity(
        session, username=username, until=min(window["to"], now), days=60, notice_at=notice_at
    )
    return page(
        request,
        "leaver.html",
        principal=me,
        title=f"Leaver case: {username}",
        report=report,
        person=person,
        reasons=overview.reasons_given(session, user_id=person.id, since=window["from"], until=window["to"]),
        activity=activity,
        notice_day=notice_at.date().isoformat() if notice_at else "",
        first_time={
            c["customer_id"]
            for c in report["customers"]
            if c["before_notice"]["requests"] == 0 and c["after_notice"]["requests"] > 0
        },
    )


@router.get("/console/leavers/{username}/exposure.csv", openapi_extra=WRITES)
def case_csv(
    username: str, request: Request, me: ReviewerViewer, session: SessionDep, runtime: RuntimeDep, now: NowDep
) -> Response:
    report = _case(session, runtime, now, username, me.username, "leaver_case_csv")
    response = Response(
        exposure_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="exposure-{username}.csv"'},
    )
    return finish(request, response)
