"""Events from other systems (API key of an account with the `ingest` role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import GuardRoute, NowDep, PrincipalDep, SessionDep
from api.schemas import Strict
from guard.auth.service import Principal
from guard.detection.ingest import MAX_BATCH, ExternalEvent, ingest_events
from guard.errors import Forbidden
from guard.types import Role

router = APIRouter(tags=["detection"], route_class=GuardRoute)


def ingest_key(principal: PrincipalDep) -> Principal:
    if principal.via != "api_key" or not principal.has_any(Role.INGEST):
        raise Forbidden("events are accepted from an API key of an account with the 'ingest' role")
    return principal


IngestDep = Annotated[Principal, Depends(ingest_key)]


class ExternalEventIn(Strict):
    ts: AwareDatetime
    actor: str = Field(min_length=1, max_length=200)
    action: str = Field(min_length=3, max_length=100)
    source: str = Field(min_length=1, max_length=40)
    target: str = Field("", max_length=300)
    customer_id: str | None = Field(None, min_length=1, max_length=64)
    count: int | None = Field(None, ge=0, le=1_000_000_000)


class Accepted(BaseModel):
    accepted: int


@router.post("/events", status_code=202, response_model=Accepted)
def post_events(
    events: Annotated[list[ExternalEventIn], Body(min_length=1, max_length=MAX_BATCH)],
    principal: IngestDep,
    session: SessionDep,
    now: NowDep,
) -> Accepted:
    accepted = ingest_events(
        session=session,
        ingested_by=principal.username,
        events=[ExternalEvent(**event.model_dump()) for event in events],
        now=now,
    )
    return Accepted(accepted=accepted)
