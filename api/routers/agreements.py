"""The confidentiality agreement: read the one in force, accept it (required before any access request)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import ClientDep, GuardRoute, NowDep, PrincipalDep, RuntimeDep, SessionDep
from api.schemas import Strict
from guard.agreements import service

router = APIRouter(tags=["agreements"], route_class=GuardRoute)


class AgreementOut(BaseModel):
    version: str
    text: str


class AcceptIn(Strict):
    version: str = Field(min_length=1, max_length=64)


class AcceptanceOut(BaseModel):
    version: str
    accepted_at: datetime


@router.get("/agreements/current", response_model=AgreementOut)
def current_agreement(_principal: PrincipalDep, runtime: RuntimeDep) -> AgreementOut:
    agreement = runtime.agreements.current
    return AgreementOut(version=agreement.version, text=agreement.text)


@router.post("/me/agreements", status_code=201, response_model=AcceptanceOut)
def accept_agreement(
    body: AcceptIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    now: NowDep,
) -> AcceptanceOut:
    acceptance = service.accept(
        session=session,
        user_id=principal.user_id,
        username=principal.username,
        version=body.version,
        current=runtime.agreements.current,
        client=client,
        now=now,
    )
    return AcceptanceOut(version=acceptance.version, accepted_at=acceptance.accepted_at)
