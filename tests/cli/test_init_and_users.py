"""The `guard` command as an operator runs it: a real process, real files, a real database."""

from __future__ import annotations

import base64
import secrets
import stat
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support.live import live_server
from tests.support.live import run_guard as guard


def test_init_creates_owner_only_keys_and_the_first_admin_once(tmp_path: Path, bare_db_url: str) -> None:
    home = tmp_path / "home"
    first = guard(home, bare_db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple")
    assert first.returncode == 0, first.stderr
    assert "created the first admin 'admin'" in first.stdout
    assert "password" not in first.stdout  # it came from the environment: never printed
    assert "created jwt signing key jwt-" in first.stdout
    assert "created audit signing key audit-" in first.stdout
    keys = home / "keys"
    assert [p.name for p in keys.iterdir()] == [
        "master.key"
    ]  # the one secret on the host; the rest is sealed
    assert stat.S_IMODE((keys / "master.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    again = guard(home, bare_db_url, "init")
    assert again.returncode == 0
    assert "created" not in again.stdout  # nothing missing, nothing recreated
    listed = guard(home, bare_db_url, "users", "list")
    assert listed.stdout.split()[0:2] == ["admin", "active"]


def test_init_without_terminal_or_password_generates_and_prints_it_once(
    tmp_path: Path, bare_db_url: str
) -> None:
    result = guard(tmp_path / "home", bare_db_url, "init")
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if "shown once" in x)
    password = line.rsplit(" ", 1)[1]
    assert len(password) >= 20


def test_users_add_list_suspend_and_exit_codes(tmp_path: Path, bare_db_url: str) -> None:
    home = tmp_path / "home"
    assert (
        guard(home, bare_db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple").returncode == 0
    )
    added = guard(
        home,
        bare_db_url,
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
    duplicate = guard(home, bare_db_url, "users", "add", "ann", "--email", "ann@example.com")
    assert duplicate.returncode == 2
    assert "already exists" in duplicate.stderr
    no_password = guard(home, bare_db_url, "users", "add", "bob", "--email", "bob@example.com")
    assert no_password.returncode == 2
    assert "needs a password" in no_password.stderr
    machine = guard(
        home, bare_db_url, "users", "add", "crm-bot", "--email", "crm@example.com", "--role", "ingest"
    )
    assert machine.returncode == 0, machine.stderr  # a machine account uses API keys, no password
    bad_role = guard(home, bare_db_url, "users", "add", "bob", "--email", "bob@example.com", "--role", "king")
    assert bad_role.returncode == 2
    assert "unknown role" in bad_role.stderr
    assert guard(home, bare_db_url, "users", "suspend", "ann").returncode == 0
    assert guard(home, bare_db_url, "users", "suspend", "ghost").returncode == 2
    listed = guard(home, bare_db_url, "users", "list", "--status", "suspended").stdout
    assert listed.split()[0] == "ann"


def test_placeholder_secret_or_missing_keys_refuse_to_start(tmp_path: Path, bare_db_url: str) -> None:
    home = tmp_path / "home"
    missing = guard(home, bare_db_url, "serve", "--port", "1")
    assert missing.returncode == 2
    assert "guard init" in missing.stderr
    placeholder = guard(home, bare_db_url, "init", GUARD_ADMIN_PASSWORD="changeme")
    assert placeholder.returncode == 2
    assert "admin_password" in placeholder.stderr
    assert "placeholder" in placeholder.stderr
    assert (
        guard(home, bare_db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple").returncode == 0
    )
    weak_master = guard(home, bare_db_url, "serve", "--port", "1", GUARD_MASTER_KEY="A" * 44)
    assert weak_master.returncode == 2
    assert "GUARD_MASTER_KEY" in weak_master.stderr


def test_bad_usage_is_a_message_and_exit_2_never_a_traceback(tmp_path: Path, bare_db_url: str) -> None:
    home = tmp_path / "home"
    for args in (
        ("nosuchcmd",),
        ("users", "add", "bob"),  # --email missing
        ("users", "api-keys", "create", "bob", "--name", "x", "--expires", "not-a-date"),
    ):
        answer = guard(home, bare_db_url, *args)
        assert answer.returncode == 2, args
        assert "Traceback" not in answer.stderr, args
        assert "Error:" in answer.stderr, args


def test_a_further_host_with_the_first_hosts_master_key_creates_nothing(
    tmp_path: Path, bare_db_url: str
) -> None:
    first, second, stranger = tmp_path / "first", tmp_path / "second", tmp_path / "stranger"
    assert (
        guard(first, bare_db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple").returncode == 0
    )
    master_key = (first / "keys" / "master.key").read_text().strip()

    joined = guard(second, bare_db_url, "init", GUARD_MASTER_KEY=master_key)
    assert joined.returncode == 0, joined.stderr
    assert "created" not in joined.stdout  # the keys and the first admin were found, not made again
    assert not (second / "keys" / "master.key").exists()  # given by the environment, never written

    without = guard(stranger, bare_db_url, "init")
    assert without.returncode == 2
    assert "give this host that key" in without.stderr
    assert not (stranger / "keys" / "master.key").exists()  # no key of its own that would not open anything

    other = base64.b64encode(secrets.token_bytes(32)).decode()
    refused = guard(stranger, bare_db_url, "serve", "--port", "1", GUARD_MASTER_KEY=other)
    assert refused.returncode == 2
    assert "does not open the signing keys in the database" in refused.stderr
    assert guard(stranger, bare_db_url, "init", GUARD_MASTER_KEY=other).returncode == 2


def test_key_files_of_an_earlier_release_move_into_the_database(tmp_path: Path, bare_db_url: str) -> None:
    home = tmp_path / "home"
    jwt_dir = home / "keys" / "jwt"
    jwt_dir.mkdir(parents=True)
    kids = ["jwt-20260101-0000000a", "jwt-20260201-0000000b"]
    for kid in kids:
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (jwt_dir / f"{kid}.pem").write_bytes(pem)
        (jwt_dir / f"{kid}.pem").chmod(0o600)
    (jwt_dir / "ACTIVE").write_text(kids[1] + "\n")
    (jwt_dir / "RETIRED").write_text(kids[0] + "\n")

    moved = guard(home, bare_db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple")
    assert moved.returncode == 0, moved.stderr
    assert f"jwt signing keys {kids[0]}, {kids[1]} (moved from" in moved.stdout
    assert "created audit signing key audit-" in moved.stdout  # none on disk: a new one
    with live_server(home, bare_db_url) as base:
        login = httpx.post(
            f"{base}/auth/login", json={"username": "admin", "password": "correct-horse-battery-staple"}
        )
        assert login.status_code == 200, login.text
        assert (
            jwt.get_unverified_header(login.json()["access_token"])["kid"] == kids[1]
        )  # still the active one
    listed = {
        line.split()[0]: line.split()[-1]
        for line in guard(home, bare_db_url, "keys", "list").stdout.splitlines()
    }
    assert (listed[kids[1]], listed[kids[0]]) == ("active", "retired")
    assert sorted(listed.values()) == ["active", "active", "retired"]  # and the new audit key
    retire_again = guard(home, bare_db_url, "keys", "retire", kids[0])
    assert retire_again.returncode == 2
    assert "already retired" in retire_again.stderr
