"""What `guard init` does for keys on a host: the master key here, the signing keys in the database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from guard.errors import ConfigError
from guard.keys import store
from guard.keys.material import ensure_master_key, load_master_key, master_key_present

ANOTHER_HOSTS_KEYS = (
    "the database already holds the keys of a Guard, sealed under its first host's master key: give this "
    "host that key (GUARD_MASTER_KEY or keys/master.key); nothing was created"
)


def provision_keys(*, session: Session, keys_dir: Path, override: str | None, now: datetime) -> list[str]:
    """Create whichever is missing and say what was created. On a further host of one Guard, given the
    first host's master key, nothing is; without it, nothing is either and the refusal says why."""
    created: list[str] = []
    if not master_key_present(keys_dir, override=override):
        if store.has_signing_keys(session=session):
            raise ConfigError(ANOTHER_HOSTS_KEYS)
        ensure_master_key(keys_dir)
        created.append(f"vault master key in {keys_dir}")
    master_key = load_master_key(keys_dir, override=override)
    made = store.create_missing(session=session, master_key=master_key, now=now, key_files=keys_dir)
    store.load_keyring(session=session, master_key=master_key)  # refuses another Guard's master key
    return [*created, *(f"{what} in the database" for what in made)]
