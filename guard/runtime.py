"""Everything a running Guard needs, built once from settings by the app factory or the CLI."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta

from guard.access.tokens import ContentTokenCodec
from guard.agreements.service import AgreementStore, load_agreement
from guard.audit.log import install_hooks
from guard.auth.passwords import Passwords
from guard.auth.tokens import TokenCodec
from guard.clock import Clock, make_clock
from guard.db import Database, open_database
from guard.detection.rulestore import RuleStore
from guard.keys import Keyring, load_keyring
from guard.policies.store import PolicyStore
from guard.settings import Settings
from guard.vault.blobs import DatabaseBlobs
from guard.vault.store import Vault


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

    @property
    def refresh_lifetime(self) -> timedelta:
        return timedelta(days=self.settings.auth.refresh_token_days)

    def close(self) -> None:
        self.db.dispose()


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
    """Load keys first: a missing or placeholder key refuses to start with a clear message."""
    master_override = settings.master_key.get_secret_value() if settings.master_key else None
    keyring = load_keyring(settings.keys_path, master_key_override=master_override)
    codec = TokenCodec(
        signing=keyring.jwt_signing,
        public_keys=keyring.jwt_public,
        issuer=settings.auth.issuer,
        audience=settings.auth.audience,
        lifetime=timedelta(minutes=settings.auth.access_token_minutes),
        leeway=timedelta(seconds=settings.auth.leeway_seconds),
    )
    broker = settings.broker
    db = open_db(settings)
    vault = open_vault(settings, db, keyring.master_key)
    # First start: seal the vault's canary with this master key (see guard.vault.store). A vault that
    # cannot be written now is reported by readiness (`master_key`) and refused by `guard serve`.
    with suppress(OSError):
        vault.ensure_canary()
    return Runtime(
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
    )


def open_vault(settings: Settings, db: Database, master_key: bytes) -> Vault:
    """The vault with the blob store the settings name (by default `database` on PostgreSQL, where several
    hosts share it, and `filesystem` on SQLite)."""
    vault = Vault(settings.vault_path, master_key)
    store = settings.vault_store or ("filesystem" if db.is_sqlite else "database")
    if store == "database":
        vault.blobs = DatabaseBlobs(db.read, vault.files)
    return vault
