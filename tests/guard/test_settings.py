"""Settings: YAML defaults, GUARD_* overrides, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from guard.errors import ConfigError
from guard.settings import load_settings


def test_yaml_defaults_and_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GUARD_HOME", str(tmp_path))
    monkeypatch.setenv("GUARD_AUTH__ACCESS_TOKEN_MINUTES", "5")
    settings = load_settings()
    assert settings.auth.access_token_minutes == 5
    assert settings.auth.issuer == "guard"
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path.resolve()}/guard.db"
    assert settings.witness_path == tmp_path / "audit-witness.jsonl"
    monkeypatch.setenv("GUARD_DATABASE_URL", "postgresql+psycopg://db/guard")
    assert load_settings().sqlalchemy_url == "postgresql+psycopg://db/guard"


def test_yaml_file_with_a_typo_is_refused_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "guard.yaml"
    config.write_text("auth:\n  acces_token_minutes: 5\n")
    monkeypatch.setenv("GUARD_CONFIG_FILE", str(config))
    with pytest.raises(ConfigError, match=r"auth\.acces_token_minutes"):
        load_settings()


@pytest.mark.parametrize("value", ["changeme", "secret", "placeholder", ""])
def test_placeholder_secrets_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("GUARD_MASTER_KEY", value)
    with pytest.raises(ConfigError, match="master_key"):
        load_settings()


def test_out_of_range_value_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARD_AUTH__ACCESS_TOKEN_MINUTES", "0")
    with pytest.raises(ConfigError, match=r"auth\.access_token_minutes"):
        load_settings()
