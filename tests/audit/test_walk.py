"""A long SQLite walk is cut into stretches checked by helper processes: the joined answer is the one a
single walk gives, wherever the damage is."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from guard.audit.chain import GENESIS_HASH
from guard.audit.scan import Scan, scan_chain
from guard.db import transaction
from guard.runtime import Runtime
from tests.audit.helpers import append, row, sql, unlock

SIZE = 90


def scan(runtime: Runtime, *, parts: int, wanted: tuple[int, ...] = ()) -> Scan:
    with transaction(runtime.db.read) as session:
        return scan_chain(
            session.connection(),
            start=0,
            start_hash=GENESIS_HASH,
            stop=SIZE,
            wanted=wanted,
            parallel_from=1 if parts > 1 else None,
            parts=parts,
        )


@pytest.fixture
def log(runtime: Runtime) -> Engine:
    if not runtime.db.is_sqlite:
        pytest.skip("PostgreSQL is walked in one piece")
    append(runtime, SIZE)
    unlock(runtime.db.engine)
    return runtime.db.engine


def test_an_intact_chain_joins_to_the_single_walk(runtime: Runtime, log: Engine) -> None:
    single = scan(runtime, parts=1, wanted=(10, 45, 89))
    split = scan(runtime, parts=3, wanted=(10, 45, 89))
    assert (split.problem_at, split.end, split.end_hash) == (None, SIZE, row(log, SIZE)["hash"])
    assert split == single
    assert split.hashes == {seq: row(log, seq)["hash"] for seq in (10, 45, 89)}


@pytest.mark.parametrize("damaged", [7, 30, 31, 60, 75, 90])
def test_damage_in_any_stretch_is_found_at_the_same_seq(runtime: Runtime, log: Engine, damaged: int) -> None:
    sql(log, "UPDATE audit_entries SET hash = :h WHERE seq = :s", h="ab" * 32, s=damaged)
    split = scan(runtime, parts=3, wanted=(5, 50))
    assert split.problem_at == damaged
    assert split.end == damaged - 1
    assert split == scan(runtime, parts=1, wanted=(5, 50))


def test_a_missing_boundary_entry_is_found_by_one_walk(runtime: Runtime, log: Engine) -> None:
    sql(log, "DELETE FROM audit_entries WHERE seq = 30")  # 30 is where the second of three stretches starts
    assert scan(runtime, parts=3).problem_at == 30


@pytest.mark.parametrize("helper", ["exits with an error", "cannot be started"])
def test_a_failing_helper_leaves_its_stretch_to_this_process(
    runtime: Runtime,
    log: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    helper: str,
) -> None:
    broken = tmp_path / "python"
    if helper == "exits with an error":
        broken.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 3\n")
        broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(sys, "executable", str(broken))
    sql(log, "UPDATE audit_entries SET hash = :h WHERE seq = 70", h="cd" * 32)
    split = scan(runtime, parts=3)
    assert (split.problem_at, split.end) == (70, 69)
    # Both helpers failed, and this process walked their stretches.
    assert ("cannot start" if helper == "exits with an error" else "could not start") in caplog.text
