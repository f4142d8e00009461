"""The `guard` command as an operator runs it: a real process, real files, a real database."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.support.live import run_guard as guard


def test_init_creates_owner_only_keys_and_the_first_admin_once(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / "home"
    first = guard(home, db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple")
    assert first.returncode == 0, first.stderr
    assert "created the first admin 'admin'" in first.stdout
    assert "password" not in first.stdout  # it came from the environment: never printed
    keys = home / "keys"
    private_files = [*keys.glob("*/*.pem"), keys / "master.key"]
    assert len(private_files) == 3
    for path in private_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    again = guard(home, db_url, "init")
    assert again.returncode == 0
    assert "created" not in again.stdout  # nothing missing, nothing recreated
    listed = guard(home, db_url, "users", "list")
    assert listed.stdout.split()[0:2] == ["admin", "active"]


def test_init_without_terminal_or_password_generates_and_prints_it_once(tmp_path: Path, db_url: str) -> None:
    result = guard(tmp_path / "home", db_url, "init")
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if "shown once" in x)
    password = line.rsplit(" ", 1)[1]
    assert len(password) >= 20


def test_users_add_list_suspend_and_exit_codes(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / "home"
    assert guard(home, db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple").returncode == 0
    added = guard(
        home,
        db_url,
        "users",
        "add",
        "ann",
        "--email",
        "ann@example.com",
        "--role",
        "staff",
        "--role",
        "author",
        "--password",
        "a-long-test-password",
    )
    assert added.returncode == 0, added.stderr
    duplicate = guard(home, db_url, "users", "add", "ann", "--email", "ann@example.com")
    assert duplicate.returncode == 2
    assert "already exists" in duplicate.stderr
    no_password = guard(home, db_url, "users", "add", "bob", "--email", "bob@example.com")
    assert no_password.returncode == 2
    assert "needs a password" in no_password.stderr
    machine = guard(home, db_url, "users", "add", "crm-bot", "--email", "crm@example.com", "--role", "ingest")
    assert machine.returncode == 0, machine.stderr  # a machine account uses API keys, no password
    bad_role = guard(home, db_url, "users", "add", "bob", "--email", "bob@example.com", "--role", "king")
    assert bad_role.returncode == 2
    assert "unknown role" in bad_role.stderr
    assert guard(home, db_url, "users", "suspend", "ann").returncode == 0
    assert guard(home, db_url, "users", "suspend", "ghost").returncode == 2
    listed = guard(home, db_url, "users", "list", "--status", "suspended").stdout
    assert listed.split()[0] == "ann"


def test_placeholder_secret_or_missing_keys_refuse_to_start(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / "home"
    missing = guard(home, db_url, "serve", "--port", "1")
    assert missing.returncode == 2
    assert "guard init" in missing.stderr
    placeholder = guard(home, db_url, "init", GUARD_ADMIN_PASSWORD="changeme")
    assert placeholder.returncode == 2
    assert "admin_password" in placeholder.stderr
    assert "placeholder" in placeholder.stderr
    assert guard(home, db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple").returncode == 0
    weak_master = guard(home, db_url, "serve", "--port", "1", GUARD_MASTER_KEY="A" * 44)
    assert weak_master.returncode == 2
    assert "GUARD_MASTER_KEY" in weak_master.stderr


def test_bad_usage_is_a_message_and_exit_2_never_a_traceback(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / "home"
    for args in (
        ("nosuchcmd",),
        ("users", "add", "bob"),  # --email missing
        ("users", "api-keys", "create", "bob", "--name", "x", "--expires", "not-a-date"),
    ):
        answer = guard(home, db_url, *args)
        assert answer.returncode == 2, args
        assert "Traceback" not in answer.stderr, args
        assert "Error:" in answer.stderr, args
