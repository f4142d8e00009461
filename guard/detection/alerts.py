"""Alerts: raised from a rule's finding, extended by later evidence of the same episode, and worked by the
security team (`new → in_review → resolved`, an assignee, an append-only note history). Every change is
audited in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.bounds import require_reason
from guard.detection.models import Alert, AlertNote
from guard.errors import Conflict, InvalidInput, NotFound
from guard.people import holds
from guard.people.service import holders_of
from guard.policies.rules import DETECTION_ACTOR, Detection
from guard.types import Role

NEW, IN_REVIEW, RESOLVED = "new", "in_review", "resolved"
STATUSES = (NEW, IN_REVIEW, RESOLVED)
UNRESOLVED = (NEW, IN_REVIEW)
# Names the first API used, still accepted in filters.
OLD_STATUS_NAMES = {"open": NEW, "acknowledged": IN_REVIEW}
Verdict = Literal["true_positive", "false_positive", "benign"]
VERDICTS: tuple[Verdict, ...] = ("true_positive", "false_positive", "benign")
MAX_LIST = 1000
MAX_BULK = 1000
MAX_EVIDENCE = 500  # seqs kept on one alert; the count of extensions says how many more there were
NOTE_LIMIT = 2000


@dataclass(frozen=True)
class AlertFilter:
    status: str | None = None
    severity: str | None = None
    user: str | None = None
    rule: str | None = None
    assignee: str | None = None
    verdict: str | None = None
    lookback: bool | None = None

    def apply(self, query: Select[tuple[Alert]]) -> Select[tuple[Alert]]:
        if self.status:
            query = query.where(Alert.status == OLD_STATUS_NAMES.get(self.status, self.status))
        for column, value in (
            (Alert.severity, self.severity),
            (Alert.username, self.user),
            (Alert.rule, self.rule),
            (Alert.assignee, self.assignee),
            (Alert.verdict, self.verdict),
        ):
            if value:
                query = query.where(column == value)
        if self.lookback is not None:
            query = query.where(Alert.lookback.is_(self.lookback))
        return query


# -- raising ---------------------------------------------------------------------------------------------


def raise_or_extend(
    *, session: Session, detection: Detection, now: datetime, repeat: bool = False
) -> tuple[Alert | None, bool]:
    """The alert this finding belongs to and whether it is new. An unresolved alert of the same person and
    rule whose last evidence is within the rule's `suppress_for` is the same episode: the finding extends
    it. A repeat (inside the suppression window) with no such alert is dropped: (None, False)."""
    finding, spec = detection.finding, detection.rule.spec
    open_alert = session.scalars(
        select(Alert)
        .where(
            Alert.rule == spec.name,
            Alert.username == finding.user,
            Alert.status.in_(UNRESOLVED),
            Alert.lookback.is_(False),
        )
        .order_by(Alert.created_at.desc())
        .limit(1)
    ).first()
    if open_alert is not None:
        last = open_alert.last_event_ts or open_alert.event_ts
        if finding.ts <= last + spec.suppress_for:
            extend_alert(session=session, alert=open_alert, detection=detection, now=now)
            return open_alert, False
    if repeat:
        return None, False
    return raise_alert(session=session, detection=detection, now=now), True


def raise_alert(*, session: Session, detection: Detection, now: datetime, lookback: bool = False) -> Alert:
    finding, spec = detection.finding, detection.rule.spec
    alert = Alert(
        rule=spec.name,
        rule_type=spec.type,
        severity=spec.severity,
        username=finding.user,
        status=NEW,
        summary=finding.summary[:1000],
        threshold=float(finding.threshold),
        observed=float(finding.observed),
        window_seconds=int(finding.window.total_seconds()) if finding.window is not None else None,
        evidence=list(finding.evidence)[-MAX_EVIDENCE:],
        trigger_seq=detection.seq,
        event_ts=finding.ts,
        last_event_ts=finding.ts,
        extensions=0,
        lookback=lookback,
        details=dict(finding.details),
        responses=[],
        created_at=now,
    )
    session.add(alert)
    session.flush()
    record(
        session=session,
        actor=DETECTION_ACTOR,
        action="detection.alert",
        target=f"user:{finding.user}",
        payload={
            "alert_id": alert.id,
            "rule": spec.name,
            "rule_type": spec.type,
            "severity": spec.severity,
            "observed": alert.observed,
            "threshold": alert.threshold,
            "window_seconds": alert.window_seconds,
            "evidence": alert.evidence,
            "lookback": lookback,
            "summary": alert.summary,
        },
        ts=now,
    )
    return alert


def extend_alert(*, session: Session, alert: Alert, detection: Detection, now: datetime) -> None:
    finding = detection.finding
    known = set(alert.evidence)
    added = [seq for seq in finding.evidence if seq not in known]
    alert.evidence = (list(alert.evidence) + added)[-MAX_EVIDENCE:]
    alert.observed = max(alert.observed, float(finding.observed))
    alert.last_event_ts = max(alert.last_event_ts or alert.event_ts, finding.ts)
    alert.extensions = (alert.extensions or 0) + 1
    alert.details = _merged(alert.details, finding.details)
    alert.summary = f"{_first_line(alert.summary)} (+{alert.extensions} later: {finding.summary})"[:1000]
    session.flush()
    record(
        session=session,
        actor=DETECTION_ACTOR,
        action="detection.alert_extended",
        target=f"user:{finding.user}",
        payload={
            "alert_id": alert.id,
            "rule": alert.rule,
            "seq": detection.seq,
            "evidence_added": added,
            "observed": float(finding.observed),
        },
        ts=now,
    )


def _first_line(summary: str) -> str:
    return summary.split(" (+", 1)[0]


def _merged(before: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Details of an extended alert: lists grow (documents, customers seen), other values are the latest."""
    merged = dict(before)
    for key, value in later.items():
        earlier = merged.get(key)
        if isinstance(earlier, list) and isinstance(value, list):
            try:
                merged[key] = list(dict.fromkeys([*earlier, *value]))[:200]
            except TypeError:  # unhashable items (objects): keep them all
                merged[key] = [*earlier, *value][:200]
        else:
            merged[key] = value
    return merged


# -- reading ---------------------------------------------------------------------------------------------


def alert_query(where: AlertFilter) -> Select[tuple[Alert]]:
    return where.apply(select(Alert))


def get_alert(*, session: Session, alert_id: str, for_update: bool = False) -> Alert:
    query = select(Alert).where(Alert.id == alert_id)
    alert = session.scalars(query.with_for_update() if for_update else query).first()
    if alert is None:
        raise NotFound(f"no alert with id {alert_id!r}")
    return alert


def notes_of(session: Session, alert_id: str) -> list[AlertNote]:
    return list(
        session.scalars(select(AlertNote).where(AlertNote.alert_id == alert_id).order_by(AlertNote.position))
    )


def verdict_counts(session: Session) -> dict[str, dict[str, int]]:
    """Per rule: alerts in all, still unresolved, and per verdict."""
    counts: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(Alert.rule, Alert.status, Alert.verdict, func.count()).group_by(
            Alert.rule, Alert.status, Alert.verdict
        )
    )
    for rule, status, verdict, n in rows:
        row = counts.setdefault(rule, no_alerts())
        row["total"] += n
        if status != RESOLVED:
            row["unresolved"] += n
        elif verdict in VERDICTS:
            row[verdict] += n
    return counts


def no_alerts() -> dict[str, int]:
    return {"total": 0, "unresolved": 0, **{v: 0 for v in VERDICTS}}


def false_positive_rate(counts: dict[str, int]) -> float | None:
    """False positives among the resolved alerts with a verdict (None before the first)."""
    judged = sum(counts[v] for v in VERDICTS)
    return round(counts["false_positive"] / judged, 4) if judged else None


# -- working ---------------------------------------------------------------------------------------------


def _note(session: Session, alert: Alert, *, kind: str, author: str, text: str, now: datetime) -> None:
    """Append to the history; callers hold the alert's row lock, so positions never collide."""
    last = session.scalar(select(func.max(AlertNote.position)).where(AlertNote.alert_id == alert.id))
    position = (last or 0) + 1
    session.add(AlertNote(alert_id=alert.id, position=position, kind=kind, author=author, at=now, text=text))
    alert.note = text


def _audit(
    session: Session, alert: Alert, *, actor: str, action: str, now: datetime, **payload: object
) -> None:
    record(
        session=session,
        actor=actor,
        action=action,
        target=f"alert:{alert.id}",
        payload={"alert_id": alert.id, "rule": alert.rule, "user": alert.username, **payload},
        ts=now,
    )


def _clean(text: str, *, missing: str) -> str:
    return require_reason(text, missing=missing, limit=NOTE_LIMIT)


def add_note(*, session: Session, actor: str, alert_id: str, text: str, now: datetime) -> Alert:
    """A line in the history; allowed in every status (a resolved alert can still be annotated)."""
    text = _clean(text, missing="a note needs visible text")
    alert = get_alert(session=session, alert_id=alert_id, for_update=True)
    _note(session, alert, kind="note", author=actor, text=text, now=now)
    _audit(session, alert, actor=actor, action="alert.note", now=now, note=text)
    return alert


def start_review(
    *, session: Session, actor: str, alert_id: str, note: str, now: datetime, verdict: Verdict | None = None
) -> Alert:
    """`new → in_review`: someone is looking at it (and it is theirs unless it is already assigned)."""
    note = _clean(note, missing="say what you are doing about the alert")
    alert = get_alert(session=session, alert_id=alert_id, for_update=True)
    if alert.status != NEW:
        raise Conflict(f"alert {alert_id} is already {alert.status}")
    alert.status = IN_REVIEW
    alert.acknowledged_by, alert.acknowledged_at = actor, now
    alert.assignee = alert.assignee or actor
    if verdict is not None:
        alert.verdict = verdict
    _note(session, alert, kind="review", author=actor, text=note, now=now)
    _audit(
        session,
        alert,
        actor=actor,
        action="alert.review",
        now=now,
        **{"from": NEW, "to": IN_REVIEW, "note": note, "assignee": alert.assignee},
    )
    return alert


def _check_assignee(session: Session, assignee: str) -> None:
    if assignee not in holders_of(session, Role.SECURITY):
        raise InvalidInput(f"{assignee!r} is not a working member of the security team")


def assign(
    *,
    session: Session,
    actor: str,
    alert_ids: Sequence[str],
    assignee: str,
    now: datetime,
    note: str | None = None,
) -> list[Alert]:
    """Give unresolved alerts to a member of the security team. All or nothing."""
    _check_assignee(session, assignee)
    text = _clean(note, missing="a note needs visible text") if note is not None else None
    alerts = _lock_all(session, alert_ids, allowed=UNRESOLVED, verb="assign")
    for alert in alerts:
        before, alert.assignee = alert.assignee, assignee
        _note(session, alert, kind="assign", author=actor, text=text or f"assigned to {assignee}", now=now)
        _audit(
            session, alert, actor=actor, action="alert.assign", now=now, assignee=assignee, previous=before
        )
    return alerts


def resolve(
    *,
    session: Session,
    actor: str,
    alert_ids: Sequence[str],
    verdict: Verdict,
    reason: str,
    now: datetime,
    lift_holds: bool = True,
) -> list[Alert]:
    """Close unresolved alerts with a verdict and a reason. All or nothing. A false positive also lifts the
    holds each alert's responses set, unless `lift_holds` is False."""
    if verdict not in VERDICTS:
        raise InvalidInput(f"verdict must be one of {', '.join(VERDICTS)}")
    reason = _clean(reason, missing="a resolution needs a reason")
    alerts = _lock_all(session, alert_ids, allowed=UNRESOLVED, verb="resolve")
    for alert in alerts:
        before = alert.status
        alert.status, alert.verdict = RESOLVED, verdict
        alert.resolved_by, alert.resolved_at = actor, now
        _note(session, alert, kind="resolve", author=actor, text=reason, now=now)
        _audit(
            session,
            alert,
            actor=actor,
            action="alert.resolve",
            now=now,
            **{"from": before, "to": RESOLVED, "note": reason, "verdict": verdict},
        )
        if verdict == "false_positive" and lift_holds:
            _lift_holds_of(session, alert, actor=actor, reason=reason, now=now)
    return alerts


def _lift_holds_of(session: Session, alert: Alert, *, actor: str, reason: str, now: datetime) -> None:
    for hold in holds.holds_set_by_alert(session, alert_id=alert.id):
        holds.lift_holds(
            session=session,
            user=holds.get_hold_owner(session, hold),
            kind=hold.kind,
            actor=actor,
            reason=f"alert {alert.id} resolved as a false positive: {reason}",
            alert_id=alert.id,
            now=now,
        )


def _lock_all(
    session: Session, alert_ids: Sequence[str], *, allowed: tuple[str, ...], verb: str
) -> list[Alert]:
    ids = list(dict.fromkeys(alert_ids))
    if not ids:
        raise InvalidInput("no alerts to change")
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"at most {MAX_BULK} alerts at once")
    found = {
        a.id: a
        for a in session.scalars(select(Alert).where(Alert.id.in_(ids)).order_by(Alert.id).with_for_update())
    }
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"no alert with id {', '.join(repr(i) for i in missing[:10])}")
    closed = [i for i in ids if found[i].status not in allowed]
    if closed:
        raise Conflict(f"cannot {verb} alerts already {found[closed[0]].status}: {', '.join(closed[:10])}")
    return [found[i] for i in ids]


def matching_ids(*, session: Session, where: AlertFilter, unresolved_only: bool = True) -> list[str]:
    """Ids a bulk action by filter would change (capped: more than MAX_BULK is a 422, nothing changed)."""
    query = alert_query(where).with_only_columns(Alert.id)
    if unresolved_only:
        query = query.where(Alert.status.in_(UNRESOLVED))
    ids = list(session.scalars(query.order_by(Alert.id).limit(MAX_BULK + 1)))
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"the filter matches more than {MAX_BULK} alerts; narrow it")
    return ids
