"""`guard vault scrub`: decrypt every blob, compare its SHA-256 with the recorded one, report what fails."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.documents.models import Document
from guard.vault.envelope import VaultDamaged
from guard.vault.store import Vault


@dataclass(frozen=True)
class Problem:
    document_id: str
    problem: str


# A blob without a document row is left behind by an upload that crashed (or whose commit failed) after
# the blob was written. Younger ones may belong to an upload still in progress.
ORPHAN_GRACE = timedelta(hours=1)


@dataclass
class ScrubReport:
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    removed_orphans: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def scrub(*, session: Session, vault: Vault, actor: str, now: datetime) -> ScrubReport:
    """Check every document's blob and remove blobs that belong to no document (older than the grace
    period: an upload may still be under way); the run and what it removed are audited."""
    report = ScrubReport()
    known: set[str] = set()
    for document_id, digest in session.execute(select(Document.id, Document.sha256).order_by(Document.id)):
        known.add(document_id)
        report.checked += 1
        try:
            sealed = vault.read_blob(document_id)
            if vault.blobs.altered(document_id, sealed):
                report.problems.append(
                    Problem(
                        document_id, "the stored object changed since it was written (its digest differs)"
                    )
                )
                continue
            data = vault.unseal(document_id, sealed)
        except VaultDamaged as exc:
            report.problems.append(Problem(document_id, exc.detail))
            continue
        if hashlib.sha256(data).hexdigest() != digest:
            report.problems.append(Problem(document_id, "decrypts, but not to the bytes that were uploaded"))
    for stray in sorted(vault.stored_ids() - known):
        if (
            not vault.blobs.leaves_orphans
        ):  # a row with no document cannot be left behind: someone put it there
            report.problems.append(Problem(stray, "a stored blob that belongs to no document"))
        elif vault.blobs.written_at(stray) <= now - ORPHAN_GRACE:
            vault.remove(stray)
            report.removed_orphans.append(stray)
    record(
        session=session,
        actor=actor,
        action="vault.scrub",
        target="vault",
        payload={
            "checked": report.checked,
            "ok": report.ok,
            "problems": [{"document_id": p.document_id, "problem": p.problem} for p in report.problems[:200]],
            "removed_orphans": report.removed_orphans[:200],
        },
        ts=now,
    )
    return report
