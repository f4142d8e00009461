"""The audit log for the security team: search, export, verify."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from api.deps import WRITES, GuardRoute, NowDep, RuntimeDep, SessionDep, checks_own_query, require_roles
from guard.audit import export as exports
from guard.audit import search as searching
from guard.audit.verify import state_path, verify_log
from guard.auth.service import Principal
from guard.errors import InvalidInput
from guard.keys.store import load_keyring
from guard.paging import paging_key
from guard.types import Role

router = APIRouter(tags=["audit"], route_class=GuardRoute)
SecurityDep = Annotated[Principal, Depends(require_roles(Role.SECURITY))]
FILTERS = searching.FILTER_NAMES


def payload_filters(
    decision: Annotated[str | None, Query(max_length=300, description="granted, denied, pending ...")] = None,
    customer: Annotated[
        str | None, Query(max_length=300, description="a customer id the entry names")
    ] = None,
    document: Annotated[
        str | None, Query(max_length=300, description="a document id the entry names")
    ] = None,
    rule: Annotated[str | None, Query(max_length=300, description="the policy rule that decided")] = None,
    status: Annotated[str | None, Query(max_length=300, description="the person's status then")] = None,
    source: Annotated[str | None, Query(max_length=300, description="the system that reported it")] = None,
) -> dict[str, str | None]:
    """Filters on what an entry's payload says (checked on the entries the other filters select)."""
    return {
        "decision": decision,
        "customer": customer,
        "document": document,
        "rule": rule,
        "status": status,
        "source": source,
    }


PayloadFiltersDep = Annotated[dict[str, str | None], Depends(payload_filters)]


def known_parameters(*names: str) -> Callable[..., None]:
    """A misspelt filter must not silently widen a search (or an export) to the whole log.
    (Checked after the caller's role, so outsiders learn nothing about the parameters.)"""

    def _check(request: Request, _security: SecurityDep) -> None:
        keys = [key for key, _ in request.query_params.multi_items()]
        unknown = sorted({k for k in keys if k not in names})
        if unknown:
            raise InvalidInput(f"unknown parameter {unknown[0]!r}; this endpoint takes: {', '.join(names)}")
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise InvalidInput(f"give {repeated[0]!r} once")

    return checks_own_query(_check)


class AuditEntryOut(BaseModel):
    seq: int
    ts: str | None
    actor: str | None
    action: str | None
    target: str | None
    payload: Any
    hash: str


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut]
    next_cursor: str | None


class VerifyOut(BaseModel):
    ok: bool
    entries: int
    verified_through: int
    checkpoints: int
    mode: Literal["full", "incremental"]
    started_from: int
    first_bad_seq: int | None = None
    problem: str | None = None
    detail: str | None = None


@router.get(
    "/audit",
    response_model=AuditPageOut,
    dependencies=[Depends(known_parameters(*FILTERS, "cursor", "limit", "order"))],
)
def search_audit(
    _security: SecurityDep,
    session: SessionDep,
    runtime: RuntimeDep,
    fields: PayloadFiltersDep,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: str | None = None,
    until: str | None = None,
    seq: str | None = None,
    cursor: str | None = None,
    limit: int = searching.DEFAULT_LIMIT,
    order: Literal["asc", "desc"] = "desc",
) -> AuditPageOut:
    """Search the log, newest first: filters by actor, action (`access.*` for a family), target, time,
    `seq=a,b,c` (an alert's evidence) and payload fields (decision, customer, document, rule, status,
    source); pages with `next_cursor`."""
    filters = searching.parse_filters(
        actor=actor, action=action, target=target, since=since, until=until, seq=seq, fields=fields
    )
    page = searching.search(
        session=session,
        filters=filters,
        key=paging_key(runtime.keyring.master_key),
        limit=limit,
        cursor=cursor or None,
        order=order,
    )
    return AuditPageOut(entries=[AuditEntryOut(**e) for e in page.entries], next_cursor=page.next_cursor)


@router.get(
    "/audit/verify",
    response_model=VerifyOut,
    response_model_exclude_none=True,
    dependencies=[Depends(known_parameters("full"))],
)
def verify_audit(
    _security: SecurityDep, session: SessionDep, runtime: RuntimeDep, full: bool = False
) -> VerifyOut:
    settings = runtime.settings
    report = verify_log(
        session=session,
        # As the database has them now: a key rotated on another host a moment ago is known here too.
        public_keys=load_keyring(session=session, master_key=runtime.keyring.master_key).audit_public,
        log_id=settings.audit.log_id,
        witness=runtime.witness,
        state_path=state_path(settings),
        full=full,
    )
    return VerifyOut.model_validate(report, from_attributes=True)


@router.get(
    "/audit/export",
    openapi_extra=WRITES,
    response_class=StreamingResponse,
    dependencies=[Depends(known_parameters(*FILTERS, "format"))],
)
def export_audit(
    security: SecurityDep,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
    fields: PayloadFiltersDep,
    format: str = "jsonl",
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: str | None = None,
    until: str | None = None,
    seq: str | None = None,
) -> StreamingResponse:
    filters = searching.parse_filters(
        actor=actor, action=action, target=target, since=since, until=until, seq=seq, fields=fields
    )
    result = exports.export(
        session=session,
        engine=runtime.db.engine,
        actor=security.username,
        filters=filters,
        fmt=format,
        now=now,
    )
    return StreamingResponse(
        result.chunks,
        media_type=result.media_type,
        headers={"content-disposition": f'attachment; filename="{result.filename(now)}"'},
    )


class AuditEntryDetailOut(AuditEntryOut):
    prev_hash: str


@router.get(
    "/audit/{seq}",
    response_model=AuditEntryDetailOut,
    dependencies=[Depends(known_parameters())],
)
def get_audit_entry(_security: SecurityDep, session: SessionDep, seq: int) -> AuditEntryDetailOut:
    """One entry by its sequence number, with the hash that links it to the one before."""
    if not 1 <= seq < 2**63:
        raise InvalidInput("seq must be a positive sequence number")
    return AuditEntryDetailOut(**searching.get_entry(session=session, seq=seq))
