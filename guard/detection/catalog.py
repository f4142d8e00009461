"""What `GET /rules` shows: the rules in force, any disabled after a failure, the last reload's outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.detection.models import DisabledRule
from guard.detection.rulestore import ReloadOutcome, RuleStore
from guard.policies.rules import LoadedRule, RulesInvalid


@dataclass(frozen=True)
class RuleState:
    rule: LoadedRule
    disabled_reason: str | None


@dataclass(frozen=True)
class RuleCatalog:
    rules: list[RuleState]
    digest: str | None
    loaded_at: datetime | None
    last_reload: ReloadOutcome | None


def rule_catalog(*, session: Session, store: RuleStore, now: datetime) -> RuleCatalog:
    try:
        rules = store.current(now)
    except RulesInvalid:  # never loaded: the outcome below says why
        return RuleCatalog(rules=[], digest=None, loaded_at=None, last_reload=store.last_outcome)
    disabled = {row.name: row for row in session.scalars(select(DisabledRule))}
    states = []
    for rule in rules.rules:
        row = disabled.get(rule.name)
        reason = f"failed at entry {row.seq}: {row.error}" if row and row.digest == rule.digest else None
        states.append(RuleState(rule=rule, disabled_reason=reason))
    return RuleCatalog(
        rules=states, digest=rules.digest, loaded_at=store.loaded_at, last_reload=store.last_outcome
    )
