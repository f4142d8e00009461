"""The rule engine on the committed audit stream.

It reads entries after a persisted cursor in sequence order, feeds them to a Detector, and commits the
alerts, their responses and the new cursor in ONE transaction: a crash before the commit leaves the
cursor where it was, so the batch is read again and nothing is missed or doubled. Rule state lives in
memory and is rebuilt on start (and after a rule change) by silently replaying the entries inside the
largest rule window before the cursor; suppression of repeats is seeded from the stored alerts.
The engine audits alerts, responses and rule failures, never the entries it reads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.audit.models import AuditEntry
from guard.clock import Clock
from guard.db import Database, transaction
from guard.detection.alerts import raise_or_extend
from guard.detection.lookback import run_queued
from guard.detection.models import Alert, DetectionCursor, DisabledRule
from guard.detection.responses import respond
from guard.detection.rulestore import RuleStore
from guard.detection.stream import iter_events, read_after
from guard.detection.watches import load_watches, mark
from guard.policies.rules import (
    DETECTION_ACTOR,
    Detection,
    Detector,
    EntrySkipped,
    Outcome,
    RuleFailure,
    RuleSet,
    RulesInvalid,
)
from guard.policies.rules.base import MAX_EVIDENCE

log = logging.getLogger("guard.detection")
CURSOR = "main"
BATCH_SIZE = 500


@dataclass(frozen=True)
class StepResult:
    entries: int
    alerts: int


class _CursorMoved(Exception):
    """Another engine advanced the cursor: our in-memory state no longer matches it."""


class DetectionEngine:
    def __init__(self, *, db: Database, rules: RuleStore, clock: Clock, batch_size: int = BATCH_SIZE) -> None:
        self.db = db
        self.rules = rules
        self.clock = clock
        self.batch_size = batch_size
        self._detector: Detector | None = None
        self._digest: str | None = None
        self._position = 0
        self._replay_failures: list[RuleFailure] = []
        self._last_problem: str | None = None

    # -- running ---------------------------------------------------------------------------------------

    def run_once(self) -> StepResult:
        """Process everything committed so far, then the queued look-backs (the background job calls
        this every poll)."""
        entries = alerts = 0
        while True:
            step = self.step()
            entries, alerts = entries + step.entries, alerts + step.alerts
            if step.entries < self.batch_size:
                break
        self.run_lookbacks()
        return StepResult(entries, alerts)

    def run_lookbacks(self) -> int:
        """The look-backs resignations asked for; they wait while the rule set does not load."""
        now = self.clock.now()
        try:
            rules = self.rules.current(now)
        except RulesInvalid:
            return 0
        return run_queued(db=self.db, rules=rules, now=now)

    def step(self) -> StepResult:
        """One batch: read, evaluate, commit alerts + responses + cursor together."""
        now = self.clock.now()
        try:
            rules = self.rules.current(now)
        except RulesInvalid as exc:
            if exc.detail != self._last_problem:  # say it once, not on every poll
                log.error("detection is waiting for a valid rule set: %s", exc.detail)
                self._last_problem = exc.detail
            return StepResult(0, 0)
        self._last_problem = None
        if self._detector is None or self._digest != rules.digest:
            self._warm(rules)
        assert self._detector is not None
        with self.db.read() as session:
            events = read_after(session=session, after_seq=self._position, limit=self.batch_size)
            if events:
                spans = load_watches(session, ending_after=min(e.ts for e in events))
                events = list(mark(events, spans)) if spans else events
        if not events and not self._replay_failures:
            return StepResult(0, 0)
        outcomes: list[Outcome] = list(self._replay_failures)
        for event in events:
            found = self._detector.observe(event)
            if found:
                outcomes.extend(found)
        last = events[-1].seq if events else self._position
        try:
            with transaction(self.db.write) as session:
                cursor = session.scalars(
                    select(DetectionCursor).where(DetectionCursor.name == CURSOR).with_for_update()
                ).one()
                if cursor.seq != self._position:
                    raise _CursorMoved
                alerts = self._commit_outcomes(session, rules, outcomes, now)
                cursor.seq, cursor.updated_at = last, now
        except _CursorMoved:
            self._detector = None
            return StepResult(0, 0)
        except Exception:
            self._detector = None  # state ran ahead of what was committed: rebuild it next time
            raise
        self._position = last
        self._replay_failures = []
        return StepResult(len(events), alerts)

    def _commit_outcomes(
        self, session: Session, rules: RuleSet, outcomes: list[Outcome], now: datetime
    ) -> int:
        alerts = 0
        for outcome in fold_repeats(outcomes):
            if isinstance(outcome, RuleFailure):
                disable_rule(session=session, failure=outcome, now=now)
                continue
            if isinstance(outcome, EntrySkipped):
                record_skip(session=session, skipped=outcome, now=now)
                continue
            alert, new = raise_or_extend(session=session, detection=outcome, now=now, repeat=outcome.repeat)
            if alert is not None and new:
                respond(session=session, alert=alert, responses=list(outcome.rule.spec.responses), now=now)
                alerts += 1
        return alerts

    # -- rebuilding state ------------------------------------------------------------------------------

    def _warm(self, rules: RuleSet) -> None:
        with self.db.read() as session:
            position = session.scalar(select(DetectionCursor.seq).where(DetectionCursor.name == CURSOR)) or 0
            disabled = {
                name
                for name, digest in session.execute(select(DisabledRule.name, DisabledRule.digest))
                if (rule := rules.get(name)) is not None and rule.digest == digest
            }
            detector = Detector(rules.rules, disabled=disabled, repeats=True)
            replayed = 0
            failures: list[RuleFailure] = []
            if position:
                cursor_ts = session.scalar(select(AuditEntry.ts).where(AuditEntry.seq == position))
                if cursor_ts is not None:
                    _seed_suppression(session, detector, rules, cursor_ts)
                    start = cursor_ts - detector.horizon
                    spans = load_watches(session, ending_after=start)
                    replay = iter_events(session=session, since=start, through_seq=position)
                    for event in mark(replay, spans):
                        replayed += 1
                        failures.extend(o for o in detector.observe(event) if isinstance(o, RuleFailure))
        log.info(
            "detection state rebuilt",
            extra={
                "cursor": position,
                "replayed": replayed,
                "rules": detector.active,
                "digest": rules.digest,
            },
        )
        self._detector, self._digest, self._position = detector, rules.digest, position
        self._replay_failures = failures


def fold_repeats(outcomes: list[Outcome]) -> list[Outcome]:
    """Repeats of one person and rule in a batch become one: the last of them, carrying the evidence of
    all. An alert is then extended once per batch (one query, one audit entry), not once per entry of a
    burst. A fresh detection of the same person and rule keeps its place after the repeats before it."""
    folded: list[Outcome] = []
    pending: dict[tuple[str, str], Detection] = {}
    for outcome in outcomes:
        if not isinstance(outcome, Detection):
            folded.append(outcome)
            continue
        key = (outcome.rule.name, outcome.finding.user)
        if not outcome.repeat:
            if key in pending:
                folded.append(pending.pop(key))
            folded.append(outcome)
            continue
        earlier = pending.get(key)
        if earlier is not None:
            evidence = tuple(dict.fromkeys((*earlier.finding.evidence, *outcome.finding.evidence)))
            outcome = replace(outcome, finding=replace(outcome.finding, evidence=evidence[-MAX_EVIDENCE:]))
        pending[key] = outcome
    return folded + list(pending.values())


def _seed_suppression(session: Session, detector: Detector, rules: RuleSet, cursor_ts: datetime) -> None:
    """Alerts raised before the replayed span still hold back repeats for their rule's suppress_for."""
    longest = max((r.spec.suppress_for for r in rules.rules), default=timedelta(0))
    rows = session.execute(
        select(Alert.rule, Alert.username, func.max(Alert.event_ts))
        .where(Alert.lookback.is_(False), Alert.event_ts > cursor_ts - longest)
        .group_by(Alert.rule, Alert.username)
    )
    for rule_name, username, last in rows:
        rule = rules.get(rule_name)
        if rule is not None and last is not None:
            detector.suppress(rule_name, username, last + rule.spec.suppress_for)


def record_skip(*, session: Session, skipped: EntrySkipped, now: datetime) -> None:
    """An entry no rule (or one rule) could evaluate: said in the audit log; the rules stay on."""
    record(
        session=session,
        actor=DETECTION_ACTOR,
        action="detection.entry_skipped",
        target=f"rule:{skipped.rule}" if skipped.rule else "detection",
        payload={"rule": skipped.rule, "seq": skipped.seq, "error": skipped.error[:1000]},
        ts=now,
    )
    log.warning("entry skipped by detection", extra={"rule": skipped.rule, "seq": skipped.seq})


def disable_rule(*, session: Session, failure: RuleFailure, now: datetime) -> None:
    """Keep a rule that raised switched off (until its file changes) and say so in the audit log."""
    rule = failure.rule
    row = session.get(DisabledRule, rule.name)
    if row is not None and row.digest == rule.digest:
        return
    if row is None:
        row = DisabledRule(name=rule.name)
        session.add(row)
    row.digest, row.error, row.seq, row.disabled_at = rule.digest, failure.error[:4000], failure.seq, now
    record(
        session=session,
        actor=DETECTION_ACTOR,
        action="detection.rule_failed",
        target=f"rule:{rule.name}",
        payload={
            "rule": rule.name,
            "type": rule.spec.type,
            "seq": failure.seq,
            "error": failure.error[:1000],
        },
        ts=now,
    )
    log.error("rule disabled after a failure", extra={"rule": rule.name, "error": failure.error})
