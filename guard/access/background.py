"""The broker's share of `guard serve`: the pending-request expiry job and the vault watcher."""

from __future__ import annotations

import zlib

from guard.access.approvals import expire_overdue
from guard.background import Job
from guard.db import transaction
from guard.leader import leader_lock
from guard.runtime import Runtime
from guard.vault.watch import VaultWatcher


def expiry_job(runtime: Runtime) -> Job:
    def run() -> None:
        with transaction(runtime.db.write) as session:
            expire_overdue(session=session, now=runtime.clock.now())

    return Job("access-expiry", runtime.settings.broker.expiry_check_seconds, run, leader_only=True)


def vault_watcher(runtime: Runtime) -> VaultWatcher | None:
    if not runtime.settings.broker.vault_watch:
        return None
    # One watcher per vault directory, whichever database or host the workers share.
    name = f"guard-vault-watch-{zlib.crc32(str(runtime.vault.root.resolve()).encode()):08x}"
    leader = leader_lock(runtime, name)
    return VaultWatcher(vault=runtime.vault, db=runtime.db, clock=runtime.clock, leader=leader)
