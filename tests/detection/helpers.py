"""Writing audit entries the way the broker does, and running the engine over them."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from guard.audit.log import record
from guard.audit.models import AuditEntry
from guard.db import transaction
from guard.detection.engine import DetectionEngine
from guard.detection.models import Alert
from guard.detection.rulestore import RuleStore
from guard.people.models import User
from guard.runtime import Runtime
from guard.settings import REPO_CONFIG_DIR

DEFAULT_RULES = REPO_CONFIG_DIR / "policies" / "rules"


def access(
    actor: str,
    ts: datetime,
    *,
    action: str = "download",
    document: str = "d1",
    customer: str = "c1",
    status: str = "active",
    decision: str = "granted",
    in_portfolio: bool = True,
    honeytoken: bool = False,
    classification: str = "internal",
) -> dict[str, Any]:
    """One `access.<action>` entry as the broker records it."""
    return {
        "actor": actor,
        "action": f"access.{action}",
        "target": f"document:{document}",
        "ts": ts,
        "payload": {
            "request_id": f"r-{document}-{ts.timestamp()}",
            "decision": decision,
            "rule": "quota",
            "document_id": document,
            "customer_id": customer,
            "classification": classification,
            "honeytoken": honeytoken,
            "status": status,
            "in_portfolio": in_portfolio,
            "count": 1,
            "views_left": 2,
            "reason": "customer call",
        },
    }


def add_entries(runtime: Runtime, entries: Iterable[dict[str, Any]]) -> list[int]:
    with transaction(runtime.db.write) as session:
        pending = [record(session=session, **entry) for entry in entries]
    return [p.seq for p in pending if p.seq is not None]


def engine_for(runtime: Runtime, rules: RuleStore | None = None, batch_size: int = 500) -> DetectionEngine:
    return DetectionEngine(
        db=runtime.db, rules=rules or runtime.rules, clock=runtime.clock, batch_size=batch_size
    )


def alerts(runtime: Runtime, **where: Any) -> list[Alert]:
    with runtime.db.read() as session:
        query = select(Alert).filter_by(**where).order_by(Alert.trigger_seq, Alert.rule)
        return list(session.scalars(query))


def audit_actions(runtime: Runtime, prefix: str = "") -> list[str]:
    with runtime.db.read() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))
        return [a for a in actions if a.startswith(prefix)]


def set_status(runtime: Runtime, username: str, status: str) -> None:
    """Directly in the database, as the HR lifecycle would (the person has no holds)."""
    with transaction(runtime.db.write) as session:
        session.execute(update(User).where(User.username == username).values(status=status, lifecycle=status))


def rules_dir(tmp_path: Path, *names: str, extra: dict[str, str] | None = None) -> Path:
    """A rules directory with some of the shipped rules and extra ones given as YAML text."""
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(DEFAULT_RULES / f"{name}.yaml", folder / f"{name}.yaml")
    for file, text in (extra or {}).items():
        (folder / file).write_text(text)
    return folder
