"""What the HR lifecycle runs inside `guard serve`: the departure sweeper and the inbox watcher."""

from __future__ import annotations

from guard.background import Job
from guard.hr.departure import sweep
from guard.hr.inbox.watcher import InboxWatcher
from guard.runtime import Runtime


def sweep_job(runtime: Runtime) -> Job:
    """Leader-only: applies departures whose last working day has ended (access ended then already)."""

    def run() -> None:
        sweep(
            read=runtime.db.read,
            write=runtime.db.write,
            hr=runtime.settings.hr,
            now=runtime.clock.now(),
        )

    return Job("hr-sweep", runtime.settings.hr.sweep_seconds, run, leader_only=True)


def inbox_watcher(runtime: Runtime) -> InboxWatcher:
    return InboxWatcher(runtime)
