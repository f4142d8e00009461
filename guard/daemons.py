"""What runs beside the API inside `guard serve`: periodic jobs and filesystem watchers.

Each area contributes its jobs and watchers here; the app factory starts them on start-up and stops them
on shutdown (only when `background_workers` is on, which tests switch off unless they need it).
"""

from __future__ import annotations

from typing import Protocol

from guard.access.background import expiry_job, vault_watcher
from guard.audit.jobs import audit_jobs
from guard.auth.background import keys_job
from guard.background import BackgroundRunner, Job
from guard.detection.background import detection_job, policy_watcher
from guard.hr.background import inbox_watcher, sweep_job
from guard.leader import leader_lock
from guard.notifications import service as notifications
from guard.runtime import Runtime


class Daemon(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def build_jobs(runtime: Runtime) -> list[Job]:
    jobs: list[Job] = [
        Job(
            "notification-webhook",
            runtime.settings.notifications.poll_seconds,
            lambda: deliver_webhooks(runtime),
        ),
        detection_job(runtime),
        expiry_job(runtime),
        sweep_job(runtime),
        *audit_jobs(runtime),
        keys_job(runtime),
    ]
    return jobs


def deliver_webhooks(runtime: Runtime) -> None:
    cfg = runtime.settings.notifications
    notifications.deliver_webhooks(
        read=runtime.db.read,
        write=runtime.db.write,
        url=cfg.webhook_url,
        now=runtime.clock.now(),
        timeout=cfg.timeout_seconds,
        max_backoff=cfg.max_backoff_seconds,
    )


def build_watchers(runtime: Runtime) -> list[Daemon]:
    watchers: list[Daemon] = []
    policies = policy_watcher(runtime)
    if policies is not None:
        watchers.append(policies)
    vault = vault_watcher(runtime)
    if vault is not None:
        watchers.append(vault)
    watchers.append(inbox_watcher(runtime))
    return watchers


def build_daemons(runtime: Runtime) -> list[Daemon]:
    leader = leader_lock(runtime)
    return [BackgroundRunner(jobs=build_jobs(runtime), leader=leader), *build_watchers(runtime)]
