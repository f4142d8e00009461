"""Settings: `config/guard.yaml` for defaults, `GUARD_*` environment variables on top.

Built by `load_settings()` in the app factory and the CLI, never at import time.
Nested values use a double underscore: `GUARD_AUTH__ACCESS_TOKEN_MINUTES=5`.
"""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from guard.errors import ConfigError

REPO_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "change_me", "secret", "password", "placeholder", "todo", "xxx", "admin"}
)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthSettings(Section):
    issuer: str = "guard"
    audience: str = "guard-api"
    access_token_minutes: int = Field(10, ge=1, le=24 * 60)
    refresh_token_days: int = Field(7, ge=1, le=90)
    leeway_seconds: int = Field(10, ge=0, le=120)
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65536, ge=8)
    argon2_parallelism: int = Field(1, ge=1)
    # Password policy: at least this long, and at least this zxcvbn score (0 to 4), judged with the
    # person's username, name and email as known words (so "ann.smith2026" is weak for Ann Smith).
    password_min_length: int = Field(12, ge=8, le=128)
    password_min_score: int = Field(3, ge=0, le=4)
    # Failed logins, per account and per client address, within `throttle_window_minutes`: the first
    # `throttle_free_failures` cost nothing; each further one doubles a wait before the next try (from one
    # second, at most `throttle_max_delay_seconds`); at `throttle_lockout_failures` the key is locked for
    # `throttle_lockout_minutes`.
    # How often each server re-reads the JWT keys directory: a `guard keys rotate jwt` or `guard keys
    # retire KID` reaches every worker within this many seconds, without a restart.
    keys_reload_seconds: float = Field(5, gt=0, le=3600)
    throttle_window_minutes: int = Field(15, ge=1, le=24 * 60)
    throttle_free_failures: int = Field(5, ge=1, le=1000)
    throttle_max_delay_seconds: int = Field(60, ge=1, le=3600)
    throttle_lockout_failures: int = Field(10, ge=2, le=10_000)
    throttle_lockout_minutes: int = Field(15, ge=1, le=24 * 60)


class HttpSettings(Section):
    max_body_bytes: int = Field(1_048_576, ge=1024)
    upload_max_bytes: int = Field(25 * 1_048_576, ge=1024)
    # `guard serve` collects cyclic garbage after this many new objects (Python's default is 700): the
    # default makes a full collection, which walks every object and stalls every request, several
    # times a second under load (see api.app.serve_app). 0 keeps Python's default.
    gc_first_generation: int = Field(50_000, ge=0, le=10_000_000)


class SqliteSettings(Section):
    busy_timeout_ms: int = Field(30_000, ge=0)
    synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "FULL"


class ForwarderSettings(Section):
    name: str
    kind: Literal["syslog", "webhook"]
    # syslog: host, port, protocol; webhook: url
    host: str = "127.0.0.1"
    port: int = 514
    protocol: Literal["udp", "tcp"] = "udp"
    url: str | None = None
    timeout_seconds: float = 2.0
    batch_size: int = Field(200, ge=1)


class AuditSettings(Section):
    log_id: str = "guard-audit"
    checkpoint_every_entries: int = Field(1000, ge=1)
    checkpoint_every_seconds: int = Field(60, ge=1)
    witness_path: Path | None = None
    # Where signed checkpoints are also kept: `file` (witness_path) or `s3` (objects in `s3.bucket`).
    witness: Literal["file", "s3"] = "file"
    forwarders: list[ForwarderSettings] = []
    forward_max_backoff_seconds: float = Field(60.0, gt=0)
    # A full verify by the leader at start-up and then this often (0: never); damage is a critical alert.
    verify_every_hours: float = Field(24.0, ge=0)


class NotificationSettings(Section):
    webhook_url: str | None = None
    timeout_seconds: float = Field(5.0, gt=0)
    max_backoff_seconds: float = Field(300.0, gt=0)
    poll_seconds: float = Field(2.0, gt=0)


class HrSettings(Section):
    lookback_days: int = Field(90, ge=1, le=3650)  # exposure reports start this long before the notice
    inbox_poll_seconds: float = Field(1.0, gt=0)  # how often the leader looks at the HR inbox
    inbox_settle_seconds: float = Field(1.0, ge=0)  # a dropped file must keep its size this long
    sweep_seconds: float = Field(60.0, gt=0)  # how often due departures are applied
    workday_end: time = time(18, 0)  # a last working day ends at this local time ...
    timezone: str = "UTC"  # ... in this zone

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class BrokerSettings(Section):
    content_token_seconds: int = Field(60, ge=5, le=3600)  # lifetime of a content link
    grant_valid_hours: float = Field(24, gt=0)  # a grant can be collected (once) for this long
    pending_expiry_hours: float = Field(72, gt=0)  # undecided requests expire after this long
    expiry_check_seconds: float = Field(60, gt=0)  # how often the leader expires overdue requests
    export_approval_above: int = Field(10, ge=0)  # exports of more documents need approval
    export_max_documents: int = Field(100, ge=1)  # larger exports are refused outright
    access_policy_file: Path | None = None  # default: <config_dir>/policies/access.yaml
    agreement_file: Path | None = None  # default: <config_dir>/agreement.yaml
    vault_watch: bool = True  # record every touch of the vault that is not the broker's


class S3Settings(Section):
    """An S3-compatible object store (AWS S3, MinIO, Ceph, …) for `vault_store: s3`. Credentials come the
    usual AWS way: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or the instance's role."""

    bucket: str | None = None
    prefix: str = Field("guard/", max_length=200)
    endpoint_url: str | None = None  # unset: AWS itself
    region: str = "us-east-1"
    timeout_seconds: float = Field(10.0, gt=0)


class ReadinessSettings(Section):
    min_free_disk_mb: int = Field(200, ge=0)  # /readyz fails `disk` below this much free space under home
    probe_timeout_ms: int = Field(2000, ge=1)  # the audit write probe waits this long for the write lock


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GUARD_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    home: Path = Path("var")
    database_url: str | None = None
    config_dir: Path = REPO_CONFIG_DIR
    keys_dir: Path | None = None
    vault_dir: Path | None = None
    # Where sealed document blobs live: `filesystem` (under vault_dir), `database` (table vault_blobs, in
    # the transaction of the document row) or `s3` (objects in `s3.bucket`, their digests in the database).
    # Unset: database on PostgreSQL, filesystem on SQLite.
    vault_store: Literal["filesystem", "database", "s3"] | None = None
    hr_inbox_dir: Path | None = None
    # How long the leader host may be gone (power lost, network cut) before another host takes its work over.
    leader_lost_after_seconds: int = Field(30, ge=3, le=3600)
    clock_file: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    admin_password: SecretStr | None = None
    master_key: SecretStr | None = None
    background_workers: bool = True

    auth: AuthSettings = AuthSettings()
    http: HttpSettings = HttpSettings()
    sqlite: SqliteSettings = SqliteSettings()
    audit: AuditSettings = AuditSettings()
    notifications: NotificationSettings = NotificationSettings()
    hr: HrSettings = HrSettings()
    broker: BrokerSettings = BrokerSettings()
    s3: S3Settings = S3Settings()
    readiness: ReadinessSettings = ReadinessSettings()

    @field_validator("admin_password", "master_key")
    @classmethod
    def _refuse_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("is a placeholder; set a real secret or leave it unset")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = Path(os.environ.get("GUARD_CONFIG_FILE", REPO_CONFIG_DIR / "guard.yaml"))
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))

    # Derived locations: everything Guard writes lives under `home` unless told otherwise.
    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'guard.db').resolve()}"

    @property
    def keys_path(self) -> Path:
        return self.keys_dir or self.home / "keys"

    @property
    def vault_path(self) -> Path:
        return self.vault_dir or self.home / "vault"

    @property
    def hr_inbox_path(self) -> Path:
        return self.hr_inbox_dir or self.home / "hr-inbox"

    @property
    def witness_path(self) -> Path:
        return self.audit.witness_path or self.home / "audit-witness.jsonl"

    @property
    def policies_path(self) -> Path:
        return self.config_dir / "policies"


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation failures into a ConfigError that names the field."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
