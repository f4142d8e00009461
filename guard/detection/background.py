"""Detection's parts of `guard serve`: the engine as a leader-only job, the policy directory watcher."""

from __future__ import annotations

import logging

from guard.background import Job
from guard.detection.engine import DetectionEngine
from guard.detection.reload import PolicyReloader
from guard.runtime import Runtime

log = logging.getLogger("guard.detection")
# Polled this often, an entry's alert is committed well within two seconds of the entry itself.
POLL_SECONDS = 0.5


def detection_job(runtime: Runtime, *, poll_seconds: float = POLL_SECONDS) -> Job:
    engine = DetectionEngine(db=runtime.db, rules=runtime.rules, clock=runtime.clock)

    def run() -> None:
        engine.run_once()

    return Job("detection", poll_seconds, run, leader_only=True)


def policy_watcher(runtime: Runtime) -> PolicyReloader | None:
    """Watches the access policy and the rules together: they are validated and swapped as one set."""
    directory = runtime.settings.policies_path
    if not directory.is_dir():
        log.warning("no policy directory at %s: policies will not be reloaded", directory)
        return None
    return PolicyReloader(
        directory=directory, rules=runtime.rules, access=runtime.policies, db=runtime.db, clock=runtime.clock
    )
