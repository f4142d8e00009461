"""GET /readyz tells the truth: 200 only when Guard can work now, else 503 naming what is wrong.

Each test breaks one thing Guard needs (the audit table refusing inserts, the chain head locked elsewhere,
the keys directory gone, the wrong master key, too little disk) and expects exactly that check to fail.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text

from api.app import create_app
from guard.access.background import vault_watcher
from guard.audit.log import record
from guard.audit.models import AuditEntry, AuditHead
from guard.clock import FixedClock
from guard.db import transaction
from guard.errors import ConfigError
from guard.keys.models import SigningKeyRecord
from guard.runtime import Runtime, build_runtime
from guard.settings import Settings
from guard.vault.store import CANARY_FILE, Vault
from tests.audit.helpers import verify
from tests.broker.test_access import audit
from tests.broker.test_vault import wait_for
from tests.support.live import live_server, run_guard
from tests.support.settings import guard_settings

CHECKS = ["database", "audit_write", "keys", "master_key", "disk"]


def other_master_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def readiness(client: TestClient) -> tuple[int, dict[str, str]]:
    response = client.get("/readyz")
    body = response.json()
    assert body["status"] == ("ready" if response.status_code == 200 else "not ready")
    assert list(body["checks"]) == CHECKS  # every check, every time
    return response.status_code, body["checks"]


def failing(checks: dict[str, str]) -> list[str]:
    return [name for name, outcome in checks.items() if outcome != "ok"]


@pytest.fixture
def guard_with(settings: Settings, clock: FixedClock, runtime: Runtime):  # type: ignore[no-untyped-def]
    """A second Guard on the same home and database, with some settings changed. `runtime` came first,
    so the vault canary is already sealed with the home's own master key."""
    opened: list[Runtime] = []

    @contextmanager
    def start(**overrides: object) -> Iterator[TestClient]:
        rt = build_runtime(guard_settings(settings.home, settings.sqlalchemy_url, **overrides), clock=clock)
        opened.append(rt)
        with TestClient(create_app(runtime=rt)) as test_client:
            yield test_client

    yield start
    for rt in opened:
        rt.close()


def audit_state(runtime: Runtime) -> tuple[int, int]:
    with runtime.db.read() as session:
        head = session.scalar(select(AuditHead.seq).where(AuditHead.id == 1))
        count = session.scalar(select(func.count()).select_from(AuditEntry))
    assert head is not None
    assert count is not None
    return head, count


def test_ready_when_everything_works(client: TestClient, runtime: Runtime) -> None:
    status, checks = readiness(client)
    assert status == 200
    assert checks == dict.fromkeys(CHECKS, "ok")
    assert runtime.vault.canary_path.exists()  # sealed on first start


def test_the_audit_write_probe_leaves_no_entry_and_no_gap(client: TestClient, runtime: Runtime) -> None:
    before = audit_state(runtime)
    for _ in range(3):
        assert readiness(client)[0] == 200
    assert audit_state(runtime) == before  # rolled back: nothing appended, the head did not move
    with transaction(runtime.db.write) as session:
        entry = record(session=session, actor="test", action="test.after_probe", target="t")
    assert entry.seq == before[0] + 1  # the next real entry takes the next number
    assert verify(runtime).ok


def refuse_audit_inserts(runtime: Runtime) -> None:
    """Make every insert into the audit table fail, inside this test's own database or schema."""
    with runtime.db.engine.begin() as connection:
        if runtime.db.is_sqlite:
            connection.execute(
                text(
                    "CREATE TRIGGER audit_entries_refuse_insert BEFORE INSERT ON audit_entries "
                    "BEGIN SELECT RAISE(ABORT, 'audit inserts refused by the test'); END"
                )
            )
        else:
            connection.execute(
                text("ALTER TABLE audit_entries ADD CONSTRAINT refuse_insert CHECK (seq < 0) NOT VALID")
            )


def test_not_ready_when_the_audit_table_refuses_inserts(client: TestClient, runtime: Runtime) -> None:
    refuse_audit_inserts(runtime)
    status, checks = readiness(client)
    assert status == 503
    assert failing(checks) == ["audit_write"]  # reads still work: only the write probe knows
    assert checks["audit_write"].startswith("the audit log cannot be written")


def test_not_ready_on_a_read_only_sqlite_database(
    tmp_path: Path, settings: Settings, clock: FixedClock
) -> None:
    if not settings.sqlalchemy_url.startswith("sqlite"):
        pytest.skip("SQLite only: a database opened read-only")
    build_runtime(settings, clock=clock).close()  # seal the canary with a writable Guard first
    path = settings.sqlalchemy_url.removeprefix("sqlite:///")
    read_only = guard_settings(settings.home, f"sqlite:///file:{path}?mode=ro&uri=true")
    rt = build_runtime(read_only, clock=clock)
    try:
        with TestClient(create_app(runtime=rt)) as client:
            status, checks = readiness(client)
    finally:
        rt.close()
    assert status == 503
    assert failing(checks) == ["audit_write"]
    assert "readonly" in checks["audit_write"]


def test_a_chain_head_locked_elsewhere_fails_fast_and_recovers(
    guard_with,  # type: ignore[no-untyped-def]
    settings: Settings,
) -> None:
    url = settings.sqlalchemy_url
    with guard_with(readiness={"probe_timeout_ms": 200}) as client:
        if url.startswith("sqlite"):
            holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            release = holder.rollback
        else:
            engine = create_engine(url)
            connection = engine.connect()
            connection.execute(text("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE"))

            def release() -> None:
                connection.rollback()
                connection.close()
                engine.dispose()

        try:
            started = time.monotonic()
            status, checks = readiness(client)
            assert time.monotonic() - started < 5  # bounded by the probe timeout, not the busy timeout
        finally:
            release()
        assert status == 503
        assert failing(checks) == ["audit_write"]
        assert readiness(client) == (200, dict.fromkeys(CHECKS, "ok"))
        if url.startswith("sqlite"):  # the pooled connection got its usual busy timeout back
            with client.app.state.runtime.db.engine.connect() as pooled:  # type: ignore[attr-defined]
                wait_ms = pooled.exec_driver_sql("PRAGMA busy_timeout").scalar()
            assert wait_ms == settings.sqlite.busy_timeout_ms


def test_not_ready_without_the_master_key(client: TestClient, settings: Settings) -> None:
    assert readiness(client)[0] == 200
    shutil.rmtree(settings.keys_path)
    status, checks = readiness(client)
    assert status == 503
    assert failing(checks) == ["keys"]  # the master key is read again at each check
    assert "no master key" in checks["keys"]


def test_not_ready_when_a_signing_key_in_the_database_does_not_open(
    client: TestClient, runtime: Runtime
) -> None:
    with transaction(runtime.db.write) as session:
        record = session.scalars(select(SigningKeyRecord).where(SigningKeyRecord.purpose == "audit")).one()
        record.sealed_private = record.sealed_private[:-1] + bytes([record.sealed_private[-1] ^ 1])
    status, checks = readiness(client)
    assert status == 503
    assert failing(checks) == ["keys"]
    assert "does not open the signing keys" in checks["keys"]


def test_another_master_key_does_not_start(guard_with) -> None:  # type: ignore[no-untyped-def]
    with (
        pytest.raises(ConfigError, match="does not open the signing keys in the database"),
        guard_with(master_key=other_master_key()),
    ):
        pass


def test_not_ready_when_the_canary_is_gone(client: TestClient, runtime: Runtime) -> None:
    runtime.vault.canary_path.unlink()
    status, checks = readiness(client)
    assert status == 503
    assert failing(checks) == ["master_key"]
    assert "guard init" in checks["master_key"]


def test_not_ready_below_the_free_disk_threshold(guard_with) -> None:  # type: ignore[no-untyped-def]
    with guard_with(readiness={"min_free_disk_mb": 10**9}) as client:
        status, checks = readiness(client)
    assert status == 503
    assert failing(checks) == ["disk"]
    assert "below the minimum of 1000000000 MB" in checks["disk"]


def test_a_check_that_breaks_unexpectedly_is_a_503_not_a_500(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr("guard.readiness.shutil.disk_usage", broken)
    status, checks = readiness(client)
    assert status == 503
    assert checks["disk"] == "check failed: RuntimeError: something nobody foresaw"


def test_readiness_reads_of_the_canary_are_not_vault_tampering(client: TestClient, runtime: Runtime) -> None:
    watcher = vault_watcher(runtime)
    assert watcher is not None
    watcher.start()
    try:
        wait_for(watcher.watching.is_set)
        for _ in range(3):
            assert readiness(client)[0] == 200
        sentinel = runtime.vault.root / "sentinel.bin"
        sentinel.write_bytes(b"x")  # an outside touch, recorded after everything before it was judged
        wait_for(lambda: [e for e in audit(runtime, "vault.tamper") if e["path"] == sentinel.name])
        assert {e["path"] for e in audit(runtime, "vault.tamper")} == {sentinel.name}
    finally:
        watcher.stop()


def test_serve_refuses_to_start_with_the_wrong_master_key(tmp_path: Path, bare_db_url: str) -> None:
    home = tmp_path / "home"
    assert (
        run_guard(home, bare_db_url, "init", GUARD_ADMIN_PASSWORD="correct-horse-battery-staple").returncode
        == 0
    )
    assert (home / "vault" / CANARY_FILE).exists()
    wrong = run_guard(home, bare_db_url, "serve", "--port", "1", GUARD_MASTER_KEY=other_master_key())
    assert wrong.returncode == 2
    assert "does not open the signing keys in the database" in wrong.stderr
    with live_server(home, bare_db_url) as base:  # the right key: it starts and is ready
        response = httpx.get(f"{base}/readyz", timeout=10)
    assert response.status_code == 200
    assert response.json()["checks"] == dict.fromkeys(CHECKS, "ok")


def test_a_vault_from_before_the_canary_gets_one_only_from_the_key_that_opens_it(tmp_path: Path) -> None:
    right, wrong = secrets.token_bytes(32), secrets.token_bytes(32)
    Vault(tmp_path / "vault", right).put("d" * 32, b"a customer's document")
    assert Vault(tmp_path / "vault", wrong).ensure_canary() is False  # a wrong key is never sealed in
    assert not (tmp_path / "vault" / CANARY_FILE).exists()
    assert Vault(tmp_path / "vault", right).ensure_canary() is True
    assert Vault(tmp_path / "vault", right).ensure_canary() is False  # once
    assert Vault(tmp_path / "vault", right).canary_problem() is None
    assert "does not open" in (Vault(tmp_path / "vault", wrong).canary_problem() or "")
