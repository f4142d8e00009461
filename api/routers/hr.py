"""HR lifecycle: events from HR, the departures archive, exposure reports, the watchlist, handovers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field

from api.deps import GuardRoute, NowDep, PrincipalDep, RuntimeDep, SessionDep, require_roles
from api.schemas import Strict
from guard.auth.service import Principal
from guard.hr import archive, handovers
from guard.hr.events import EventInput, apply_event
from guard.types import Role

router = APIRouter(tags=["hr"], route_class=GuardRoute)
HrDep = Annotated[Principal, Depends(require_roles(Role.HR))]
ReviewerDep = Annotated[Principal, Depends(require_roles(Role.SECURITY, Role.HR))]


class HrEventIn(Strict):
    employee: str = Field(min_length=1, max_length=254, description="username, email or employee id")
    type: Literal["resignation", "termination", "withdrawal"]
    notice_date: date | None = None
    last_working_date: date | None = None
    successor: str | None = Field(None, min_length=1, max_length=254)
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)


class HrEventOut(BaseModel):
    id: str
    employee: str
    type: str
    status: str = Field(description="the person's status after the event")
    applied: list[str] = Field(description="what was done; empty when the event had already been applied")
    duplicate: bool = Field(description="true when this event was applied before (same key or same event)")


class HandoverSummaryOut(BaseModel):
    id: str
    status: str
    recipient: str | None
    items: int
    acknowledged: int
    unacknowledged: list[dict[str, Any]]


class DepartureOut(BaseModel):
    id: str
    user: str
    display_name: str
    type: str
    state: str
    notice_date: date | None
    last_working_date: date | None
    access_ends_at: datetime
    departed_at: datetime | None
    withdrawn_at: datetime | None
    successor: str | None
    recipient: str | None
    handover: HandoverSummaryOut | None
    exposure: dict[str, Any] | None
    reported_by: str
    reported_at: datetime


class CountsOut(BaseModel):
    views: int
    downloads: int
    exports: int
    requests: int
    denied: int
    external: int


class TouchedOut(CountsOut):
    first: datetime | None
    last: datetime | None
    before_notice: CountsOut
    after_notice: CountsOut


class CustomerExposureOut(TouchedOut):
    customer_id: str
    name: str | None


class DocumentExposureOut(TouchedOut):
    document_id: str
    title: str | None
    customer_id: str | None
    classification: str | None


class AlertOut(BaseModel):
    id: str
    rule: str
    severity: str
    status: str
    summary: str
    event_ts: datetime
    created_at: datetime
    lookback: bool


class WindowOut(BaseModel):
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    notice_at: datetime | None


class ExposureOut(BaseModel):
    user: str
    status: str
    departure_type: str | None
    departure_state: str | None
    notice_date: date | None
    last_working_date: date | None
    departed_at: datetime | None
    window: WindowOut
    totals: dict[str, int]
    customers: list[CustomerExposureOut]
    documents: list[DocumentExposureOut]
    alerts: list[AlertOut]
    handover: HandoverSummaryOut | None


class WatchlistOut(BaseModel):
    id: str
    user: str
    departure_id: str
    last_working_date: date | None
    opened_at: datetime
    closed_at: datetime | None
    close_reason: str | None


class HandoverItemOut(BaseModel):
    id: str
    kind: str
    ref_id: str
    label: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    note: str | None


class HandoverOut(BaseModel):
    id: str
    departure_id: str
    leaver: str
    recipient: str | None
    status: str
    opened_at: datetime
    closed_at: datetime | None
    acknowledged: int
    items: list[HandoverItemOut]


class AckIn(Strict):
    note: str | None = Field(None, max_length=1000)


@router.post("/hr/events", status_code=202, response_model=HrEventOut)
def post_event(
    body: HrEventIn, hr: HrDep, session: SessionDep, runtime: RuntimeDep, now: NowDep
) -> HrEventOut:
    result = apply_event(
        session=session,
        actor=hr.username,
        data=EventInput(**body.model_dump()),
        source="api",
        hr=runtime.settings.hr,
        policy=runtime.policies.current,
        now=now,
    )
    return HrEventOut(**result.__dict__)


@router.get("/hr/departures", response_model=list[DepartureOut])
def departures(
    _reviewer: ReviewerDep,
    session: SessionDep,
    state: Annotated[Literal["scheduled", "departed", "withdrawn"] | None, Query()] = None,
    user: Annotated[str | None, Query(max_length=64)] = None,
) -> list[DepartureOut]:
    records = archive.list_departures(session=session, state=state, username=user)
    return [DepartureOut.model_validate(r.__dict__) for r in records]


@router.get("/hr/departures/{username}/exposure", response_model=ExposureOut, response_model_by_alias=True)
def exposure(
    username: str, _reviewer: ReviewerDep, session: SessionDep, runtime: RuntimeDep, now: NowDep
) -> ExposureOut:
    report = archive.exposure_report(session=session, username=username, hr=runtime.settings.hr, now=now)
    return ExposureOut.model_validate(report)


@router.get("/hr/watchlist", response_model=list[WatchlistOut])
def watchlist(_reviewer: ReviewerDep, session: SessionDep, closed: bool = False) -> list[WatchlistOut]:
    return [
        WatchlistOut.model_validate(r.__dict__)
        for r in archive.list_watchlist(session=session, include_closed=closed)
    ]


def _handover_out(view: handovers.HandoverView) -> HandoverOut:
    return HandoverOut(
        id=view.id,
        departure_id=view.departure_id,
        leaver=view.leaver,
        recipient=view.recipient,
        status=view.status,
        opened_at=view.opened_at,
        closed_at=view.closed_at,
        acknowledged=view.acknowledged,
        items=[HandoverItemOut.model_validate(i.__dict__) for i in view.items],
    )


@router.get("/handovers", response_model=list[HandoverOut])
def list_handovers(
    principal: PrincipalDep,
    session: SessionDep,
    status: Annotated[Literal["open", "closed", "cancelled"] | None, Query()] = None,
) -> list[HandoverOut]:
    views = handovers.list_handovers(session=session, principal=principal, status=status)
    return [_handover_out(v) for v in views]


@router.get("/handovers/{handover_id}", response_model=HandoverOut)
def get_handover(handover_id: str, principal: PrincipalDep, session: SessionDep) -> HandoverOut:
    return _handover_out(
        handovers.get_handover(session=session, principal=principal, handover_id=handover_id)
    )


@router.post("/handovers/{handover_id}/items/{item_id}/ack", response_model=HandoverOut)
def acknowledge(
    handover_id: str,
    item_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    body: Annotated[AckIn | None, Body()] = None,
) -> HandoverOut:
    view = handovers.acknowledge_item(
        session=session,
        principal=principal,
        handover_id=handover_id,
        item_id=item_id,
        note=body.note if body else None,
        now=now,
    )
    return _handover_out(view)
