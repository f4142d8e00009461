"""Every worker re-reads the JWT keys directory now and then: rotations and retirements need no restart."""

from __future__ import annotations

import logging

from guard.background import Job
from guard.errors import ConfigError
from guard.keys import load_jwt_keys
from guard.runtime import Runtime

log = logging.getLogger("guard.auth.keys")


def reload_jwt_keys(runtime: Runtime) -> bool:
    """Swap in the key set on disk when it differs from the one in use; True when it did. A key set that
    does not load (a file half written, a permission wrong) leaves the current keys in place."""
    try:
        signing, public = load_jwt_keys(runtime.settings.keys_path)
    except (ConfigError, OSError, ValueError) as exc:
        log.warning("the JWT keys on disk do not load; the keys in use stay: %s", exc)
        return False
    if (signing.kid, frozenset(public)) == runtime.codec.key_ids:
        return False
    runtime.codec.replace_keys(signing=signing, public_keys=public)
    log.info("JWT keys reloaded", extra={"signing": signing.kid, "trusted": sorted(public)})
    return True


def keys_job(runtime: Runtime) -> Job:
    def run() -> None:
        reload_jwt_keys(runtime)

    # Every worker signs and verifies, so every worker reloads.
    return Job("jwt-keys-reload", runtime.settings.auth.keys_reload_seconds, run, leader_only=False)
