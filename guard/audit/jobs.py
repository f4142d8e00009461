"""The audit log's background work inside `guard serve`: signing checkpoints, forwarding to SIEMs and a
scheduled full verify.

All are leader-only jobs: one worker does each at a time, and another takes over if it dies. The verify
records its outcome in the log itself (`audit.verified` or `audit.damaged`); the shipped `audit-damage`
rule turns damage into a critical alert for the security team.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from guard.audit.checkpoints import Checkpoint, checkpoint_now
from guard.audit.forward import Forwarder, build_forwarders
from guard.audit.log import record
from guard.audit.verify import VerifyReport, state_path, verify_log
from guard.background import Job
from guard.db import transaction
from guard.keys.store import load_keyring
from guard.runtime import Runtime

# Cheap polls (the head and the newest checkpoint or position): often enough that "every N entries"
# and new entries reaching the SIEM are prompt.
CHECKPOINT_POLL_SECONDS = 1.0
FORWARD_POLL_SECONDS = 1.0
VERIFY_ACTOR = "audit-verifier"
log = logging.getLogger("guard.audit")


def checkpoint_if_due(runtime: Runtime) -> Checkpoint | None:
    audit = runtime.settings.audit
    return checkpoint_now(
        db=runtime.db,
        signing=runtime.keyring.audit_signing,
        public_keys=runtime.keyring.audit_public,
        log_id=audit.log_id,
        witness=runtime.witness,
        now=runtime.clock.now(),
        every_entries=audit.checkpoint_every_entries,
        every_seconds=audit.checkpoint_every_seconds,
    )


def verify_now(runtime: Runtime) -> VerifyReport:
    """A full verify of the whole log, recorded in the log."""
    settings = runtime.settings
    with transaction(runtime.db.read) as session:
        report = verify_log(
            session=session,
            public_keys=load_keyring(session=session, master_key=runtime.keyring.master_key).audit_public,
            log_id=settings.audit.log_id,
            witness=runtime.witness,
            state_path=state_path(settings),
            full=True,
        )
    if not report.ok:
        log.critical(
            "the audit log is damaged", extra={"seq": report.first_bad_seq, "problem": report.problem}
        )
    with transaction(runtime.db.write) as session:
        record(
            session=session,
            actor=VERIFY_ACTOR,
            action="audit.verified" if report.ok else "audit.damaged",
            target=f"audit:{settings.audit.log_id}",
            payload={
                "ok": report.ok,
                "entries": report.entries,
                "checkpoints": report.checkpoints,
                "first_bad_seq": report.first_bad_seq,
                "problem": report.problem,
                "detail": report.detail,
            },
            ts=runtime.clock.now(),
        )
    return report


def forwarders(runtime: Runtime) -> list[Forwarder]:
    audit = runtime.settings.audit
    return build_forwarders(
        audit.forwarders,
        db=runtime.db,
        clock=runtime.clock,
        log_id=audit.log_id,
        signing=runtime.keyring.audit_signing,
        max_backoff_seconds=audit.forward_max_backoff_seconds,
    )


def audit_jobs(runtime: Runtime) -> list[Job]:
    jobs = [Job("audit-checkpoint", CHECKPOINT_POLL_SECONDS, lambda: _discard(checkpoint_if_due(runtime)))]
    for forwarder in forwarders(runtime):
        jobs.append(Job(f"audit-forward-{forwarder.name}", FORWARD_POLL_SECONDS, _runner(forwarder)))
    hours = runtime.settings.audit.verify_every_hours
    if hours > 0:
        jobs.append(Job("audit-verify", hours * 3600, lambda: _discard(verify_now(runtime))))
    return jobs


def _runner(forwarder: Forwarder) -> Callable[[], None]:
    return lambda: _discard(forwarder.run_once())


def _discard(_value: object) -> None:
    return None
