"""The audit log's background work inside `guard serve`: signing checkpoints and forwarding to SIEMs.

Both are leader-only jobs: one worker signs and forwards at a time, and another takes over if it dies.
"""

from __future__ import annotations

from collections.abc import Callable

from guard.audit.checkpoints import Checkpoint, checkpoint_now
from guard.audit.forward import Forwarder, build_forwarders
from guard.background import Job
from guard.runtime import Runtime

# Cheap polls (the head and the newest checkpoint or position): often enough that "every N entries"
# and new entries reaching the SIEM are prompt.
CHECKPOINT_POLL_SECONDS = 1.0
FORWARD_POLL_SECONDS = 1.0


def checkpoint_if_due(runtime: Runtime) -> Checkpoint | None:
    audit = runtime.settings.audit
    return checkpoint_now(
        db=runtime.db,
        signing=runtime.keyring.audit_signing,
        public_keys=runtime.keyring.audit_public,
        log_id=audit.log_id,
        witness_path=runtime.settings.witness_path,
        now=runtime.clock.now(),
        every_entries=audit.checkpoint_every_entries,
        every_seconds=audit.checkpoint_every_seconds,
    )


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
    return jobs


def _runner(forwarder: Forwarder) -> Callable[[], None]:
    return lambda: _discard(forwarder.run_once())


def _discard(_value: object) -> None:
    return None
