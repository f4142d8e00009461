"""Team watches after a departure wave: who is watched, marking their events, and the `watch_team` response.

A watched person stays `active` everywhere else (the access policy does not read watches); only detection
sees their entries as `watched`, so the leaver rules (`statuses: [notice, watched]`) apply to them, with the
leaver rules' lower thresholds, until the watch ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.detection.models import Alert, TeamWatch
from guard.notifications.service import notify
from guard.people.models import User
from guard.policies.rules import DETECTION_ACTOR, Event
from guard.types import Role, Status

WATCHED = "watched"
Spans = dict[str, list[tuple[datetime, datetime]]]


def load_watches(session: Session, *, ending_after: datetime) -> Spans:
    """Every watch still running after `ending_after`, by username."""
    rows = session.execute(
        select(User.username, TeamWatch.since, TeamWatch.until)
        .join(User, User.id == TeamWatch.user_id)
        .where(TeamWatch.until > ending_after)
    )
    spans: Spans = {}
    for username, since, until in rows:
        spans.setdefault(username, []).append((since, until))
    return spans


def mark(events: Iterable[Event], spans: Spans) -> Iterator[Event]:
    """Events of active people inside one of their watches, as `watched`."""
    for event in events:
        watched = spans.get(event.actor)
        if watched and event.status == Status.ACTIVE and any(a <= event.ts < b for a, b in watched):
            yield replace(event, status=WATCHED)
        else:
            yield event


def current_watch(session: Session, *, user_id: str, now: datetime) -> TeamWatch | None:
    return session.scalars(
        select(TeamWatch)
        .where(TeamWatch.user_id == user_id, TeamWatch.since <= now, TeamWatch.until > now)
        .order_by(TeamWatch.until.desc())
    ).first()


def watch_team(session: Session, alert: Alert, now: datetime) -> dict[str, Any]:
    """Put the colleagues who stay in the wave's team under the leaver rules; tell HR, security and the
    colleagues' managers."""
    details = alert.details
    group, team = details.get("group"), details.get("team")
    leavers = set(details.get("leavers") or [])
    seconds = details.get("watch_for_seconds")
    if group not in ("department", "manager") or not isinstance(team, str) or not isinstance(seconds, int):
        return {"done": False, "reason": "only a departure_wave alert names a team to watch"}
    query = select(User).where(User.status == Status.ACTIVE)
    if group == "department":
        query = query.where(User.department == team)
    else:
        manager = session.scalars(select(User.id).where(User.username == team)).first()
        query = query.where(User.manager_id == manager)
    colleagues = [u for u in session.scalars(query.order_by(User.username)) if u.username not in leavers]
    until = now + timedelta(seconds=seconds)
    reason = f"departure wave in {group} {team} (alert {alert.id})"
    for colleague in colleagues:
        session.add(TeamWatch(user_id=colleague.id, alert_id=alert.id, reason=reason, since=now, until=until))
        record(
            session=session,
            actor=DETECTION_ACTOR,
            action="detection.watch",
            target=f"user:{colleague.username}",
            payload={"alert_id": alert.id, "reason": reason, "until": until.isoformat()},
            ts=now,
        )
    working = list(session.scalars(select(User).where(User.status.in_([Status.ACTIVE, Status.NOTICE]))))
    managers = {c.manager_id for c in colleagues}
    recipients = [
        u.username for u in working if Role.HR in u.roles or Role.SECURITY in u.roles or u.id in managers
    ]
    notify(
        session=session,
        recipients=recipients,
        kind="alert",
        subject=f"[{alert.severity}] departure wave: {group} {team}",
        body=f"{alert.summary}. Watched by the leaver rules until {until.date().isoformat()}: "
        f"{', '.join(c.username for c in colleagues) or 'nobody'}",
        data={"alert_id": alert.id, "rule": alert.rule, "watched": [c.username for c in colleagues]},
        now=now,
    )
    session.flush()
    return {"done": True, "watched": [c.username for c in colleagues], "until": until.isoformat()}
