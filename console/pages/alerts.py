"""Security: the alert queue (filters, assign, review, resolve, bulk) and one alert with its explanation,
evidence entries and history."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import WRITES, GuardRoute, NowDep, RuntimeDep, SessionDep
from api.paging import page_request
from console.deps import FormDep, choice, field
from console.roles import SecurityPoster, SecurityViewer
from console.views import go, link, page
from guard.audit.views import record_view
from guard.detection import alerts as service
from guard.detection.evidence import evidence_entries
from guard.detection.models import Alert
from guard.errors import InvalidInput
from guard.paging import Keyset, paginate
from guard.people.holds import holds_set_by_alert
from guard.people.service import security_team

router = APIRouter(route_class=GuardRoute, include_in_schema=False)
SEVERITIES = ("critical", "high", "medium", "low")
STATUSES = ("new", "in_review", "resolved")
Verdict = Literal["true_positive", "false_positive", "benign"]
VERDICTS = ("true_positive", "false_positive", "benign")
Text = Annotated[str | None, Query(max_length=100)]


@router.get("/console/alerts")
def queue(
    request: Request,
    me: SecurityViewer,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Text = None,
    severity: Text = None,
    user: Text = None,
    rule: Text = None,
    assignee: Text = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    done: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    where = service.AlertFilter(
        status=choice(status, STATUSES, "status"),
        severity=choice(severity, SEVERITIES, "severity"),
        user=user or None,
        rule=rule or None,
        assignee=assignee or None,
    )
    found = paginate(
        session=session,
        query=service.alert_query(where),
        keyset=Keyset([Alert.created_at, Alert.id], descending=True),
        key_of=lambda row: (row[0].created_at, row[0].id),
        request=page_request(runtime.keyring.master_key, cursor, 50),
        scope="alerts",
        filters=vars(where),
    )
    return page(
        request,
        "alerts.html",
        principal=me,
        title="Alerts",
        done=done,
        alerts=[row[0] for row in found.items],
        found=found,
        filters={k: v or "" for k, v in vars(where).items()},
        team=security_team(session),
        verdicts=VERDICTS,
    )


@router.get("/console/alerts/{alert_id}", openapi_extra=WRITES)
def show(alert_id: str, request: Request, me: SecurityViewer, session: SessionDep, now: NowDep) -> Response:
    alert = service.get_alert(session=session, alert_id=alert_id)
    # the evidence is audit data about a person: who opened it is on record
    record_view(
        session=session,
        viewer=me.username,
        page="alert",
        subject=f"user:{alert.username}",
        now=now,
        alert_id=alert.id,
        seqs=list(alert.evidence)[:200],
    )
    return page(
        request,
        "alert.html",
        principal=me,
        title=f"Alert: {alert.rule}",
        alert=alert,
        entries=evidence_entries(session=session, seqs=alert.evidence),
        notes=service.notes_of(session, alert.id),
        holds=holds_set_by_alert(session, alert_id=alert.id, active_only=False),
        team=security_team(session),
        verdicts=VERDICTS,
    )


def _verdict(form_value: str) -> Verdict:
    if form_value not in VERDICTS:
        raise InvalidInput(f"choose a verdict: {', '.join(VERDICTS)}")
    return form_value  # type: ignore[return-value]


@router.post("/console/alerts/{alert_id}/{verb}")
def change(
    alert_id: str,
    verb: Literal["review", "assign", "note", "resolve"],
    request: Request,
    form: FormDep,
    me: SecurityPoster,
    session: SessionDep,
    now: NowDep,
) -> Response:
    if verb == "review":
        service.start_review(
            session=session,
            actor=me.username,
            alert_id=alert_id,
            note=field(form, "note", required=True),
            now=now,
        )
    elif verb == "assign":
        service.assign(
            session=session,
            actor=me.username,
            alert_ids=[alert_id],
            assignee=field(form, "assignee", required=True, limit=64),
            note=field(form, "note") or None,
            now=now,
        )
    elif verb == "note":
        service.add_note(
            session=session,
            actor=me.username,
            alert_id=alert_id,
            text=field(form, "text", required=True),
            now=now,
        )
    else:
        service.resolve(
            session=session,
            actor=me.username,
            alert_ids=[alert_id],
            verdict=_verdict(field(form, "verdict", required=True)),
            reason=field(form, "reason", required=True),
            lift_holds=form.get("keep_holds") is None,
            now=now,
        )
    return go(request, f"/console/alerts/{alert_id}")


@router.post("/console/alerts")
def bulk(request: Request, form: FormDep, me: SecurityPoster, session: SessionDep, now: NowDep) -> Response:
    """Assign or resolve the ticked alerts: all of them change, or none does."""
    ids = list(dict.fromkeys(value for value in form.getlist("ids") if isinstance(value, str)))[
        : service.MAX_BULK
    ]
    if not ids:
        raise InvalidInput("tick at least one alert")
    if field(form, "action") == "assign":
        service.assign(
            session=session,
            actor=me.username,
            alert_ids=ids,
            assignee=field(form, "assignee", required=True, limit=64),
            now=now,
        )
    else:
        service.resolve(
            session=session,
            actor=me.username,
            alert_ids=ids,
            verdict=_verdict(field(form, "verdict", required=True)),
            reason=field(form, "reason", required=True),
            now=now,
        )
    return go(request, link("/console/alerts", done=f"{len(ids)} alert(s) changed"))
