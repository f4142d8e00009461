"""The detection rules in force and the outcome of the last policy reload (security and admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.deps import GuardRoute, NowDep, RuntimeDep, SessionDep, require_roles
from guard.auth.service import Principal
from guard.detection.alerts import false_positive_rate, no_alerts, verdict_counts
from guard.detection.catalog import RuleState, rule_catalog
from guard.detection.rulestore import ReloadOutcome
from guard.types import Role

router = APIRouter(tags=["detection"], route_class=GuardRoute)
ReaderDep = Annotated[Principal, Depends(require_roles(Role.SECURITY, Role.ADMIN))]


class RuleOut(BaseModel):
    name: str
    type: str
    severity: str
    description: str
    file: str
    enabled: bool
    active: bool
    disabled_reason: str | None
    filters: dict[str, Any]
    options: dict[str, Any]
    responses: list[str]
    suppress_for_seconds: float
    # Alerts this rule raised: total, unresolved, and resolved per verdict
    alerts: dict[str, int]
    # false positives among the resolved alerts with a verdict (null before the first)
    false_positive_rate: float | None


class ProblemOut(BaseModel):
    file: str
    field: str
    message: str


class ReloadOut(BaseModel):
    ok: bool
    at: datetime
    error: str | None
    problems: list[ProblemOut]


class RulesOut(BaseModel):
    rules: list[RuleOut]
    digest: str | None
    loaded_at: datetime | None
    last_reload: ReloadOut | None


def rule_out(state: RuleState, counts: dict[str, int] | None) -> RuleOut:
    spec = state.rule.spec
    counts = counts or no_alerts()
    return RuleOut(
        name=spec.name,
        type=spec.type,
        severity=spec.severity,
        description=spec.description,
        file=state.rule.file,
        enabled=spec.enabled,
        active=spec.enabled and state.disabled_reason is None,
        disabled_reason=state.disabled_reason,
        filters=spec.filters.model_dump(mode="json", exclude_none=True),
        options=state.rule.config.model_dump(mode="json"),
        responses=list(spec.responses),
        suppress_for_seconds=spec.suppress_for.total_seconds(),
        alerts=counts,
        false_positive_rate=false_positive_rate(counts),
    )


def reload_out(outcome: ReloadOutcome | None) -> ReloadOut | None:
    if outcome is None:
        return None
    return ReloadOut(
        ok=outcome.ok,
        at=outcome.at,
        error=outcome.error,
        problems=[ProblemOut(file=p.file, field=p.field, message=p.message) for p in outcome.problems],
    )


@router.get("/rules", response_model=RulesOut)
def list_rules(_reader: ReaderDep, session: SessionDep, runtime: RuntimeDep, now: NowDep) -> RulesOut:
    """The rules in force, how often each fired and how often that was a false positive."""
    catalog = rule_catalog(session=session, store=runtime.rules, now=now)
    counts = verdict_counts(session)
    return RulesOut(
        rules=[rule_out(state, counts.get(state.rule.spec.name)) for state in catalog.rules],
        digest=catalog.digest,
        loaded_at=catalog.loaded_at,
        last_reload=reload_out(catalog.last_reload),
    )
