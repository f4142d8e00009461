"""Witness objects in an S3 bucket (moto's S3-compatible server, started here): every signed checkpoint is
kept there, write-once, and `guard audit verify` on any host checks the database against them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine

from guard.audit.witness import S3Witness
from guard.clock import FixedClock
from guard.runtime import Runtime, build_runtime
from tests.audit.helpers import append, checkpoint, sql, unlock, verify
from tests.support.databases import give_master_key
from tests.support.live import run_guard
from tests.support.s3 import S3_BUCKET
from tests.support.settings import guard_settings


@pytest.fixture
def witnessed(bucket: object, guard_home: Path, db_url: str, clock: FixedClock) -> Iterator[Runtime]:
    runtime = build_runtime(guard_settings(guard_home, db_url, audit={"witness": "s3"}), clock=clock)
    yield runtime
    runtime.close()


def kept(client: object) -> list[str]:
    listed = client.list_objects_v2(Bucket=S3_BUCKET).get("Contents", [])  # type: ignore[attr-defined]
    return sorted(item["Key"] for item in listed)


def test_checkpoints_are_kept_as_objects_and_a_rewrite_is_caught_from_another_host(
    bucket: object, witnessed: Runtime, tmp_path: Path, db_url: str
) -> None:
    assert isinstance(witnessed.witness, S3Witness)
    append(witnessed, 30)
    first = checkpoint(witnessed)
    append(witnessed, 30)
    second = checkpoint(witnessed)
    keys = kept(bucket)
    assert [key.rsplit("/", 1)[1].split("-")[0] for key in keys] == [
        f"{first.size:020d}",
        f"{second.size:020d}",
    ]
    assert all(key.startswith("guard/witness/guard-audit/") for key in keys)
    assert not witnessed.settings.witness_path.exists()  # nothing on this host's disk
    assert orjson.loads(witnessed.witness.last() or b"{}") == second.as_json()  # what catch-up starts from
    assert verify(witnessed).ok

    other_host = tmp_path / "other-host"
    other_host.mkdir()
    give_master_key(other_host)
    intact = run_guard(other_host, db_url, "audit", "verify", "--full", GUARD_AUDIT__WITNESS="s3")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "2 signed checkpoints" in intact.stdout

    log: Engine = witnessed.db.engine
    unlock(log)
    with log.connect() as connection:
        head = connection.exec_driver_sql("SELECT hash FROM audit_entries WHERE seq = 40").scalar()
    sql(log, "DELETE FROM audit_entries WHERE seq > 40")
    sql(log, "DELETE FROM audit_checkpoints")  # the database alone would now look consistent
    sql(log, "UPDATE audit_head SET seq = 40, hash = :h WHERE id = 1", h=head)
    caught = run_guard(other_host, db_url, "audit", "verify", "--full", GUARD_AUDIT__WITNESS="s3")
    assert caught.returncode == 1
    assert "first bad seq 41: truncated" in caught.stdout


def test_a_witness_object_removed_behind_guards_back_is_damage(bucket: object, witnessed: Runtime) -> None:
    append(witnessed, 10)
    checkpoint(witnessed)
    append(witnessed, 10)
    checkpoint(witnessed)
    append(witnessed, 10)
    checkpoint(witnessed)
    bucket.delete_object(Bucket=S3_BUCKET, Key=kept(bucket)[0])  # type: ignore[attr-defined]
    report = verify(witnessed)
    assert (report.ok, report.problem) == (False, "truncated")
    assert "the witness in s3://guard-documents/guard/witness/guard-audit/" in (report.detail or "")
    assert "was shortened or replaced" in (report.detail or "")
