"""Admins and security: the detection rules in force, how often each fired, its false-positive rate, and
the outcome of the last reload of the rule files."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import GuardRoute, NowDep, RuntimeDep, SessionDep
from console.roles import RulesViewer
from console.views import page
from guard.detection.alerts import false_positive_rate, no_alerts, verdict_counts
from guard.detection.catalog import rule_catalog

router = APIRouter(route_class=GuardRoute, include_in_schema=False)


@router.get("/console/rules")
def rules(
    request: Request, me: RulesViewer, session: SessionDep, runtime: RuntimeDep, now: NowDep
) -> Response:
    catalog = rule_catalog(session=session, store=runtime.rules, now=now)
    counts = verdict_counts(session)
    rows = []
    for state in catalog.rules:
        spec = state.rule.spec
        found = counts.get(spec.name) or no_alerts()
        rows.append(
            {"state": state, "spec": spec, "counts": found, "false_positive_rate": false_positive_rate(found)}
        )
    return page(request, "rules.html", principal=me, title="Rules", rows=rows, catalog=catalog)
