"""`guard vault migrate --to STORE`: move every document's sealed blob from the store in use to another.

Resumable: a blob the target already holds is skipped, so a run that stopped half-way is simply run
again. Each blob is opened with the master key before it is copied (a damaged one is reported and left
where it is), and moves to the database are committed in small batches. The source copies stay where they
were: removing them is the operator's decision once `guard vault scrub` is clean on the new store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from guard.audit.log import record
from guard.db import Database, transaction
from guard.documents.models import Document
from guard.settings import S3Settings
from guard.vault.envelope import VaultDamaged
from guard.vault.store import Vault
from guard.vault.stores import open_store

BATCH = 100


@dataclass
class MigrateReport:
    to: str
    total: int = 0
    moved: int = 0
    already: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)


def migrate(
    *,
    db: Database,
    vault: Vault,
    to: str,
    s3: S3Settings,
    actor: str,
    now: datetime,
    progress: Callable[[int], None] = lambda _done: None,
) -> MigrateReport:
    target = open_store(to, files=vault.files, read=db.read, s3=s3)
    # From the store in use; when that is already the target, what is left is in the vault folder.
    source = vault.blobs if vault.blobs.name != to else vault.files
    with transaction(db.read) as session:
        ids = list(session.scalars(select(Document.id).order_by(Document.id)))
    report = MigrateReport(to=to, total=len(ids))
    present = target.stored_ids()
    for start in range(0, len(ids), BATCH):
        with transaction(db.write) as session:
            for document_id in ids[start : start + BATCH]:
                if document_id in present:
                    report.already += 1
                    continue
                try:
                    sealed = source.read(document_id)
                    vault.unseal(document_id, sealed)  # a copy that does not open is not moved
                except VaultDamaged as damaged:
                    report.problems.append((document_id, damaged.detail))
                    continue
                target.write(document_id, sealed, session=session)
                report.moved += 1
        progress(min(start + BATCH, len(ids)))
    with transaction(db.write) as session:
        record(
            session=session,
            actor=actor,
            action="vault.migrate",
            target=f"vault:{to}",
            payload={
                "to": to,
                "documents": report.total,
                "moved": report.moved,
                "already_there": report.already,
                "problems": [{"document_id": d, "problem": p} for d, p in report.problems[:200]],
            },
            ts=now,
        )
    return report
