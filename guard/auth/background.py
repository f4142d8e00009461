"""Every worker re-reads the signing keys from the database now and then: a rotation or a retirement on
any host needs no restart anywhere."""

from __future__ import annotations

from guard.background import Job
from guard.runtime import Runtime


def keys_job(runtime: Runtime) -> Job:
    def run() -> None:
        runtime.reload_keys()

    # Every worker signs and verifies, so every worker reloads.
    return Job("signing-keys-reload", runtime.settings.auth.keys_reload_seconds, run, leader_only=False)
