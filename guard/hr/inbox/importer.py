"""Importing an HR file: every row is validated by applying it inside one transaction (each row in a
savepoint, so later rows see earlier ones and every bad row is reported); then either everything
commits or nothing does.

Each row's idempotency key is derived from the file's SHA-256 and the row number, so the same file
dropped twice (or imported by hand after being dropped) applies once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from guard.audit.log import record
from guard.db import transaction
from guard.errors import GuardError, InvalidInput
from guard.hr.events import EventResult, apply_event, find_person
from guard.hr.inbox.parse import Row, RowError, parse
from guard.policies.access import AccessPolicy
from guard.settings import HrSettings

MAX_ERRORS_AUDITED = 50


@dataclass
class ImportOutcome:
    name: str
    sha256: str
    accepted: bool
    results: list[tuple[Row, EventResult]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "file": self.name,
            "sha256": self.sha256,
            "outcome": "applied" if self.accepted else "rejected",
            "processed_at": now.isoformat(),
            "ignored_columns": self.ignored_columns,
            "rows": [
                {
                    "row": row.number,
                    "line": row.line,
                    "employee": result.employee,
                    "type": result.type,
                    "event_id": result.id,
                    "duplicate": result.duplicate,
                    "applied": result.applied,
                }
                for row, result in self.results
            ],
            "errors": [e.as_dict() for e in self.errors],
        }


class _Rejected(Exception):
    """Rolls the file's transaction back."""


def import_bytes(
    *,
    write: sessionmaker[Session],
    name: str,
    data: bytes,
    actor: str,
    source: str,
    hr: HrSettings,
    policy: AccessPolicy,
    now: datetime,
) -> ImportOutcome:
    digest = hashlib.sha256(data).hexdigest()
    parsed = parse(name, data)
    outcome = ImportOutcome(name, digest, False, errors=list(parsed.errors))
    outcome.ignored_columns = parsed.ignored_columns
    try:
        with transaction(write) as session:
            for row in parsed.rows:
                _apply_row(
                    session,
                    outcome,
                    row,
                    digest=digest,
                    actor=actor,
                    source=source,
                    hr=hr,
                    policy=policy,
                    now=now,
                )
            if outcome.errors:
                raise _Rejected
            outcome.accepted = True
            record(
                session=session,
                actor=actor,
                action="hr.import",
                target=f"file:{name[:200]}",
                payload={
                    "sha256": digest,
                    "source": source,
                    "rows": len(outcome.results),
                    "events": [r.id for _, r in outcome.results],
                    "duplicates": sum(1 for _, r in outcome.results if r.duplicate),
                },
                ts=now,
            )
    except _Rejected:
        outcome.results.clear()  # nothing of it was applied
        outcome.errors.sort(key=lambda e: (e.row, e.line))
        with transaction(write) as session:
            record(
                session=session,
                actor=actor,
                action="hr.import_rejected",
                target=f"file:{name[:200]}",
                payload={
                    "sha256": digest,
                    "source": source,
                    "errors": [e.as_dict() for e in outcome.errors[:MAX_ERRORS_AUDITED]],
                    "error_count": len(outcome.errors),
                },
                ts=now,
            )
    return outcome


def _apply_row(
    session: Session,
    outcome: ImportOutcome,
    row: Row,
    *,
    digest: str,
    actor: str,
    source: str,
    hr: HrSettings,
    policy: AccessPolicy,
    now: datetime,
) -> None:
    event = row.event
    if event.idempotency_key is None:
        key = f"file:{digest[:48]}:{row.number}"
        event = replace(event, idempotency_key=key)
    try:
        with session.begin_nested():
            if row.also_employee_id is not None:
                _same_person(session, event.employee, row.also_employee_id)
            result = apply_event(
                session=session,
                actor=actor,
                data=event,
                source=source,
                hr=hr,
                policy=policy,
                now=now,
            )
    except GuardError as exc:
        outcome.errors.append(RowError(row.number, row.line, exc.detail))
        return
    outcome.results.append((row, result))


def _same_person(session: Session, email: str, employee_id: str) -> None:
    by_email = find_person(session, email, "employee")
    by_id = find_person(session, employee_id, "employee")
    if by_email.id != by_id.id:
        raise InvalidInput(f"EmailAddress {email!r} and EmployeeId {employee_id!r} name different people")
