"""Background jobs inside `guard serve`: periodic work in daemon threads.

A job marked `leader_only` runs in exactly one worker process at a time (see guard.leader); the others
keep trying to take over, so the work goes on if the leader dies. A failing run is logged and retried
at the next interval; it never stops the other jobs or the server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from guard.leader import LeaderLock

log = logging.getLogger("guard.background")


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    run: Callable[[], None]
    leader_only: bool = True


class BackgroundRunner:
    def __init__(self, *, jobs: list[Job], leader: LeaderLock) -> None:
        self.jobs = jobs
        self.leader = leader
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._leader_mutex = threading.Lock()

    def is_leader(self) -> bool:
        with self._leader_mutex:
            return self.leader.still_held() or self.leader.try_acquire()

    def start(self) -> None:
        for job in self.jobs:
            thread = threading.Thread(target=self._loop, args=(job,), name=f"guard-{job.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _loop(self, job: Job) -> None:
        while not self._stop.is_set():
            if not job.leader_only or self.is_leader():
                try:
                    job.run()
                except Exception:
                    log.exception("background job failed", extra={"job": job.name})
            self._stop.wait(job.interval_seconds)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        with self._leader_mutex:
            self.leader.release()
