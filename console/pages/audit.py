"""Security: the audit explorer (server-side filters and paging), one entry with its hashes and whether a
verified checkpoint covers it, and the export of everything the filters match (no row cap). Every page
here is itself audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from api.deps import WRITES, GuardRoute, NowDep, RuntimeDep, SessionDep
from console.roles import SecurityViewer
from console.views import finish, page
from guard import overview
from guard.audit import export as exports
from guard.audit import search as searching
from guard.audit.views import record_view
from guard.errors import InvalidInput
from guard.paging import paging_key

router = APIRouter(route_class=GuardRoute, include_in_schema=False)
Text = Annotated[str | None, Query(max_length=300)]
PAGE_SIZE = 50


def _utc(value: str | None) -> str | None:
    """The console's time fields are UTC: a date alone is its midnight, a time without a zone is UTC."""
    text = (value or "").strip()
    if not text:
        return None
    if len(text) == 10:
        return f"{text}T00:00:00Z"
    has_zone = text.endswith(("Z", "z")) or "+" in text[10:] or "-" in text[10:]
    return text if has_zone else text.replace(" ", "T") + "Z"


@dataclass(frozen=True)
class Filtered:
    """The explorer's filters, parsed, and as typed (to show them again and to build links)."""

    filters: searching.AuditFilters
    shown: dict[str, str]


def audit_filters(
    actor: Text = None,
    action: Text = None,
    target: Text = None,
    since: Text = None,
    until: Text = None,
    seq: Annotated[str | None, Query(max_length=10_000)] = None,
    decision: Text = None,
    customer: Text = None,
    document: Text = None,
) -> Filtered:
    """One set of filters for the explorer and its export; times without a zone are UTC."""
    typed = {"actor": actor, "action": action, "target": target, "since": since, "until": until, "seq": seq}
    fields = {"decision": decision, "customer": customer, "document": document}
    filters = searching.parse_filters(**{**typed, "since": _utc(since), "until": _utc(until)}, fields=fields)
    return Filtered(filters, {name: value or "" for name, value in {**typed, **fields}.items()})


FilteredDep = Annotated[Filtered, Depends(audit_filters)]


@router.get("/console/audit", openapi_extra=WRITES)
def explorer(
    request: Request,
    me: SecurityViewer,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
    chosen: FilteredDep,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    filters, shown = chosen.filters, chosen.shown
    found = searching.search(
        session=session,
        filters=filters,
        key=paging_key(runtime.keyring.master_key),
        limit=PAGE_SIZE,
        cursor=cursor or None,
    )
    record_view(
        session=session,
        viewer=me.username,
        page="audit",
        subject=f"user:{filters.actor}" if filters.actor else "audit",
        now=now,
        filters=filters.as_payload(),
        entries=len(found.entries),
    )
    return page(
        request,
        "audit.html",
        principal=me,
        title="Audit log",
        entries=found.entries,
        next_cursor=found.next_cursor,
        paged=bool(cursor),
        filters=shown,
    )


@router.get("/console/audit/export", openapi_extra=WRITES)
def export(
    request: Request,
    me: SecurityViewer,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
    chosen: FilteredDep,
    format: str = "csv",
) -> Response:
    """Everything the filters match, streamed (the export itself is an audit entry)."""
    filters = chosen.filters
    result = exports.export(
        session=session, engine=runtime.db.engine, actor=me.username, filters=filters, fmt=format, now=now
    )
    response = StreamingResponse(
        result.chunks,
        media_type=result.media_type,
        headers={"content-disposition": f'attachment; filename="{result.filename(now)}"'},
    )
    return finish(request, response)


@router.get("/console/audit/{seq}", openapi_extra=WRITES)
def entry(
    seq: int, request: Request, me: SecurityViewer, session: SessionDep, runtime: RuntimeDep, now: NowDep
) -> Response:
    if not 1 <= seq < 2**63:
        raise InvalidInput("seq must be a positive sequence number")
    found = searching.get_entry(session=session, seq=seq)
    state = overview.integrity(session, witness=runtime.witness)
    record_view(
        session=session, viewer=me.username, page="audit_entry", subject=f"audit:{seq}", now=now, seq=seq
    )
    return page(
        request,
        "audit_entry.html",
        principal=me,
        title=f"Audit entry {seq}",
        entry=found,
        integrity=state,
        covered=state.covers(seq),
    )
