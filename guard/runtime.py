"""Everything a running Guard needs, built once from settings by the app factory or the CLI."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta

from guard.access.tokens import ContentTokenCodec
from guard.agreements.service import AgreementStore, load_agreement
from guard.audit.log import install_hooks
from guard.audit.witness import Witness, open_witness
from guard.auth.passwords import Passwords
from guard.auth.tokens import TokenCodec
from guard.clock import Clock, make_clock
from guard.db import Database, open_database, transaction
from guard.detection.rulestore import RuleStore
from guard.errors import GuardError
from guard.keys import Keyring
from guard.keys.material import load_master_key
from guard.keys.store import load_keyring
from guard.policies.store import PolicyStore
from guard.settings import Settings
from guard.vault.store import Vault
from guard.vault.stores import open_store

log = logging.getLogger("guard.keys")
# A token naming a key this worker does not know yet (made on another host a moment ago) reloads the keys
# at once, at most this often.
UNKNOWN_KEY_RELOAD_SECONDS = 1.0


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keyring: Keyring
    codec: TokenCodec
    passwords: Passwords
    clock: Clock
    rules: RuleStore
    policies: PolicyStore  # the access policy in force
    agreements: AgreementStore  # the confidentiality agreement in force
    vault: Vault
    content_tokens: ContentTokenCodec
    witness: Witness  # where signed checkpoints are also kept, outside the database

    @property
    def refresh_lifetime(self) -> timedelta:
        return timedelta(days=self.settings.auth.refresh_token_days)

    def close(self) -> None:
        self.db.dispose()

    def reload_keys(self) -> bool:
        """Swap in the signing keys in the database when they differ from the ones in use; True when they
        did. Keys that do not load (the database away, a key this master key does not open) leave the keys
        in use in place."""
        try:
            keyring = read_keyring(self.db, self.keyring.master_key)
        except GuardError as exc:
            log.warning("the signing keys in the database do not load; the keys in use stay: %s", exc.detail)
            return False
        if _key_ids(keyring) == _key_ids(self.keyring):
            return False
        self.codec.replace_keys(signing=keyring.jwt_signing, public_keys=keyring.jwt_public)
        self.keyring = keyring
        log.info(
            "signing keys reloaded",
            extra={"jwt": keyring.jwt_signing.kid, "audit": keyring.audit_signing.kid},
        )
        return True


def _key_ids(keyring: Keyring) -> tuple[str, frozenset[str], str, frozenset[str]]:
    return (
        keyring.jwt_signing.kid,
        frozenset(keyring.jwt_public),
        keyring.audit_signing.kid,
        frozenset(keyring.audit_public),
    )


class AtMostEvery:
    """Calls `action` when called, but no more often than every `seconds` (later calls meanwhile do
    nothing): a token naming a made-up key id must not cost a database read each."""

    def __init__(self, seconds: float, action: Callable[[], object]) -> None:
        self._seconds = seconds
        self._action = action
        self._lock = threading.Lock()
        self._last: float | None = None

    def __call__(self) -> None:
        with self._lock:
            if self._last is not None and time.monotonic() - self._last < self._seconds:
                return
            self._last = time.monotonic()
            self._action()


def open_db(settings: Settings) -> Database:
    install_hooks()
    return open_database(
        settings.sqlalchemy_url,
        busy_timeout_ms=settings.sqlite.busy_timeout_ms,
        synchronous=settings.sqlite.synchronous,
    )


def make_passwords(settings: Settings) -> Passwords:
    auth = settings.auth
    return Passwords(
        time_cost=auth.argon2_time_cost,
        memory_kib=auth.argon2_memory_kib,
        parallelism=auth.argon2_parallelism,
        min_length=auth.password_min_length,
        min_score=auth.password_min_score,
    )


def build_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    """Load keys first: a missing, placeholder or wrong master key refuses to start with a clear message."""
    master_key = load_master_key(settings.keys_path, override=master_key_override(settings))
    db = open_db(settings)
    try:
        keyring = read_keyring(db, master_key)
    except BaseException:
        db.dispose()
        raise
    codec = TokenCodec(
        signing=keyring.jwt_signing,
        public_keys=keyring.jwt_public,
        issuer=settings.auth.issuer,
        audience=settings.auth.audience,
        lifetime=timedelta(minutes=settings.auth.access_token_minutes),
        leeway=timedelta(seconds=settings.auth.leeway_seconds),
    )
    broker = settings.broker
    vault = open_vault(settings, db, keyring.master_key)
    # First start: seal the vault's canary with this master key (see guard.vault.store). A vault that
    # cannot be written now is reported by readiness (`master_key`) and refused by `guard serve`.
    with suppress(OSError):
        vault.ensure_canary()
    runtime = Runtime(
        settings=settings,
        db=db,
        keyring=keyring,
        codec=codec,
        passwords=make_passwords(settings),
        clock=clock or make_clock(settings.clock_file),
        rules=RuleStore(settings.policies_path / "rules"),  # loaded on first use, swapped on reload
        policies=PolicyStore.from_file(broker.access_policy_file or settings.policies_path / "access.yaml"),
        agreements=AgreementStore(
            load_agreement(broker.agreement_file or settings.config_dir / "agreement.yaml")
        ),
        vault=vault,
        content_tokens=ContentTokenCodec(
            master_key=keyring.master_key,
            issuer=settings.auth.issuer,
            lifetime=timedelta(seconds=broker.content_token_seconds),
        ),
        witness=open_witness(settings),
    )
    codec.on_unknown_key = AtMostEvery(UNKNOWN_KEY_RELOAD_SECONDS, runtime.reload_keys)
    return runtime


def master_key_override(settings: Settings) -> str | None:
    return settings.master_key.get_secret_value() if settings.master_key else None


def read_keyring(db: Database, master_key: bytes) -> Keyring:
    """The signing keys every host shares, opened with this host's master key."""
    with transaction(db.read) as session:
        return load_keyring(session=session, master_key=master_key)


def open_vault(settings: Settings, db: Database, master_key: bytes) -> Vault:
    """The vault with the blob store the settings name (by default `database` on PostgreSQL, where several
    hosts share it, and `filesystem` on SQLite; `s3` when asked for)."""
    vault = Vault(settings.vault_path, master_key)
    store = settings.vault_store or ("filesystem" if db.is_sqlite else "database")
    vault.blobs = open_store(store, files=vault.files, read=db.read, s3=settings.s3)
    return vault
