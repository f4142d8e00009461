"""The vault: envelope encryption, `guard vault scrub`, and the watcher recording outside touches."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from guard.access.background import vault_watcher
from guard.runtime import Runtime
from guard.vault.envelope import VaultDamaged, seal, unseal
from tests.broker.helpers import Broker
from tests.broker.test_access import audit
from tests.support.live import GUARD, server_env

KEY = os.urandom(32)
DOC = "a" * 32


@pytest.fixture(autouse=True)
def filesystem_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about blob files on disk: the filesystem store, whatever the engine's default."""
    monkeypatch.setenv("GUARD_VAULT_STORE", "filesystem")


def test_envelope_round_trip_and_binding() -> None:
    blob = seal(KEY, DOC, b"terms of the deal")
    assert b"terms" not in blob
    assert unseal(KEY, DOC, blob) == b"terms of the deal"
    assert seal(KEY, DOC, b"terms of the deal") != blob  # a fresh data key and nonce every time
    with pytest.raises(VaultDamaged):
        unseal(KEY, "b" * 32, blob)  # moved onto another document's name
    with pytest.raises(VaultDamaged):
        unseal(os.urandom(32), DOC, blob)  # another master key
    for position in (10, 30, 70, len(blob) - 1):  # wrapped key, its tag, nonce, body tag
        damaged = bytearray(blob)
        damaged[position] ^= 0x80
        with pytest.raises(VaultDamaged):
            unseal(KEY, DOC, bytes(damaged))
    with pytest.raises(VaultDamaged):
        unseal(KEY, DOC, blob[:40])


def scrub(runtime: Runtime, db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GUARD, "vault", "scrub"],
        env=server_env(runtime.settings.home, db_url),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_scrub_reports_a_flipped_byte_and_removes_a_blob_left_by_a_crashed_upload(
    broker: Broker, runtime: Runtime, db_url: str
) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    good, bad = broker.upload(customer), broker.upload(customer)
    clean = scrub(runtime, db_url)
    assert clean.returncode == 0, clean.stderr
    assert "checked 2 document(s): 0 problem(s)" in clean.stdout
    blob = runtime.vault.blob_path(bad)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    stray = runtime.vault.blob_path("c" * 32)
    stray.write_bytes(b"not ours")
    damaged = scrub(runtime, db_url)
    assert damaged.returncode == 1
    assert f"DAMAGED {bad}" in damaged.stdout
    assert "c" * 32 not in damaged.stdout  # a fresh blob without a row may be an upload under way
    assert good not in damaged.stdout
    assert stray.exists()
    hours_ago = time.time() - 2 * 3600
    os.utime(stray, (hours_ago, hours_ago))  # left behind by an upload that crashed two hours ago
    cleaned = scrub(runtime, db_url)
    assert f"removed {'c' * 32}" in cleaned.stdout
    assert not stray.exists()
    runs = audit(runtime, "vault.scrub")
    assert [r["ok"] for r in runs] == [True, False, False]
    assert {p["document_id"] for p in runs[1]["problems"]} == {bad}  # type: ignore[union-attr]
    assert runs[2]["removed_orphans"] == ["c" * 32]


def wait_for(condition, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the condition did not hold in time")


def test_watcher_records_outside_touches_but_not_the_brokers_own(
    broker: Broker, runtime: Runtime, client: TestClient, db_url: str
) -> None:
    watcher = vault_watcher(runtime)
    assert watcher is not None
    watcher.start()
    try:
        wait_for(watcher.watching.is_set)
        ann = broker.person("ann")
        document = broker.upload(broker.customer(ann))  # the broker writes a blob ...
        token = broker.ask(ann, document)["content_token"]
        assert client.get(f"/content/{token}").status_code == 200  # ... and reads it
        assert scrub(runtime, db_url).returncode == 0  # another process of the broker reads every blob
        blob = runtime.vault.blob_path(document)
        with blob.open("rb") as handle:  # someone opens a blob directly
            handle.read(16)
        sentinel = runtime.vault.root / "copied-out.bin"
        sentinel.write_bytes(b"x")  # and leaves a file behind; its entry comes last
        entries = wait_for(lambda: [e for e in audit(runtime, "vault.tamper") if e["path"] == sentinel.name])
        assert entries
        seen = [(e["event"], e["path"], e["document_id"]) for e in audit(runtime, "vault.tamper")]
        # Events arrive in order: everything before the sentinel has been judged, and only the outside
        # open of the blob was recorded (a write may add a `modified` entry for the sentinel).
        assert seen[0] == ("opened", blob.name, document)
        assert [s for s in seen[1:] if s[1] != sentinel.name] == []
        assert ("created", sentinel.name, None) in seen
        assert entries[0]["actor"] == "guard"
        assert entries[0]["target"] == f"vault:{sentinel.name}"
    finally:
        watcher.stop()
    assert not watcher.watching.is_set()
    assert list(Path(runtime.vault.inflight).iterdir()) == []  # every marker was removed


def test_a_tamper_event_seen_while_the_database_is_away_is_recorded_once_it_is_back(
    runtime: Runtime, db_url: str
) -> None:
    watcher = vault_watcher(runtime)
    assert watcher is not None
    watcher.start()
    try:
        wait_for(watcher.watching.is_set)
        with runtime.db.engine.begin() as connection:  # audit appends fail from here
            head = connection.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()
            connection.execute(text("DELETE FROM audit_head"))
        (runtime.vault.root / "dropped-in.bin").write_bytes(b"x")
        time.sleep(3 * watcher.retry_seconds)  # several failed attempts
        assert audit(runtime, "vault.tamper") == []
        with runtime.db.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :seq, :hash)"),
                {"seq": head[0], "hash": head[1]},
            )
        entries = wait_for(
            lambda: [e for e in audit(runtime, "vault.tamper") if e["path"] == "dropped-in.bin"]
        )
        assert entries[0]["event"] == "created"
    finally:
        watcher.stop()
