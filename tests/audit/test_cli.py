"""`guard audit verify|checkpoint|export` and the key rotation they survive."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from guard.audit.models import AuditEntry
from guard.cli.main import app
from guard.runtime import Runtime
from tests.audit.helpers import append, misreport, unlock


@pytest.fixture
def cli(guard_home: Path, db_url: str) -> CliRunner:
    return CliRunner(
        env={"GUARD_HOME": str(guard_home), "GUARD_DATABASE_URL": db_url, "GUARD_LOG_JSON": "false"}
    )


def test_verify_exit_codes_and_output(cli: CliRunner, runtime: Runtime) -> None:
    append(runtime, 30)
    result = cli.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact: 30 entries" in result.output
    unlock(runtime.db.engine)
    misreport(runtime.db.engine, seq=12, column="target", value="document:other")
    damaged = cli.invoke(app, ["audit", "verify", "--full"])
    assert damaged.exit_code == 1
    assert "first bad seq 12: modified" in damaged.output
    assert cli.invoke(app, ["audit", "verify", "--sideways"]).exit_code == 2


def test_checkpoint_command_signs_and_witnesses_after_a_key_rotation(
    cli: CliRunner, runtime: Runtime, guard_home: Path
) -> None:
    append(runtime, 4)
    first = cli.invoke(app, ["audit", "checkpoint"])
    assert first.exit_code == 0, first.output
    assert "signed checkpoint at 4" in first.output
    rotated = cli.invoke(app, ["keys", "rotate", "audit"])
    assert rotated.exit_code == 0, rotated.output
    second = cli.invoke(app, ["audit", "checkpoint"])
    assert "signed checkpoint at 5" in second.output  # the rotation itself was recorded: entry 5
    lines = [orjson.loads(line) for line in (guard_home / "audit-witness.jsonl").read_bytes().splitlines()]
    assert [line["size"] for line in lines] == [4, 5]
    assert lines[0]["kid"] != lines[1]["kid"]
    result = cli.invoke(app, ["audit", "verify", "--full"])
    assert result.exit_code == 0, result.output
    assert "2 signed checkpoints" in result.output
    exported = cli.invoke(app, ["keys", "export-public", str(guard_home / "verifier")])
    assert exported.exit_code == 0, exported.output
    assert sorted(p.stem for p in (guard_home / "verifier").glob("*.pub")) == sorted(
        line["kid"] for line in lines
    )
    offline = cli.invoke(app, ["audit", "verify", "--full", "--public-keys", str(guard_home / "verifier")])
    assert offline.exit_code == 0, offline.output  # the public keys are all a verifier elsewhere needs
    assert "2 signed checkpoints" in offline.output
    with runtime.db.read() as session:
        rotation = session.scalars(select(AuditEntry).where(AuditEntry.action == "keys.rotate")).one()
    assert rotation.actor == "cli"
    assert lines[1]["kid"] in rotation.body


def test_export_command_writes_a_file_and_is_recorded(
    cli: CliRunner, runtime: Runtime, tmp_path: Path
) -> None:
    append(runtime, 12, actor="ann")
    append(runtime, 3, actor="bob")
    out = tmp_path / "ann.csv"
    result = cli.invoke(app, ["audit", "export", "--format", "csv", "--actor", "ann", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = out.read_text().splitlines()
    assert rows[0] == "seq,ts,actor,action,target,payload,prev_hash,hash"
    assert len(rows) == 13
    with runtime.db.read() as session:
        recorded = session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")).one()
    assert recorded.actor == "cli"
    assert '"actor":"ann"' in recorded.body
    bad = cli.invoke(app, ["audit", "export", "--since", "last week"])
    assert bad.exit_code != 0


def test_export_command_filters_on_decision_and_customer(
    cli: CliRunner, runtime: Runtime, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from tests.detection.helpers import access, add_entries

    now = datetime.now(UTC)
    add_entries(
        runtime,
        [
            access("ann", now, decision="denied", customer="c1"),
            access("ann", now, decision="granted", customer="c1"),
            access("bob", now, decision="denied", customer="c2"),
        ],
    )
    out = tmp_path / "denied.jsonl"
    args = ["audit", "export", "--decision", "denied", "--customer", "c1", "-o", str(out)]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    [line] = out.read_text().splitlines()
    assert ('"actor":"ann"' in line, '"decision":"denied"' in line) == (True, True)
