"""The checkpoint job: signs every N entries or T seconds when there is something new, and witnesses it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from guard.audit.checkpoints import Checkpoint, signature_problem
from guard.audit.jobs import checkpoint_if_due
from guard.audit.models import AuditCheckpoint, AuditEntry
from guard.clock import FixedClock
from guard.daemons import build_jobs
from guard.db import transaction
from guard.keys.store import rotate
from guard.runtime import Runtime, build_runtime
from tests.audit.helpers import append, checkpoint, sql, unlock, verify
from tests.detection.helpers import alerts, engine_for
from tests.support.settings import guard_settings


def make_runtime(home: Path, db_url: str, clock: FixedClock, **audit: object) -> Runtime:
    settings = guard_settings(
        home,
        db_url,
        audit={"checkpoint_every_entries": 10, "checkpoint_every_seconds": 60, **audit},
    )
    return build_runtime(settings, clock=clock)


@pytest.fixture
def rt(guard_home: Path, db_url: str, clock: FixedClock) -> Iterator[Runtime]:
    runtime = make_runtime(guard_home, db_url, clock)
    yield runtime
    runtime.close()


def entries_of(runtime: Runtime, prefix: str) -> list[dict[str, object]]:
    with runtime.db.read() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        return [orjson.loads(e.body) for e in rows if e.action.startswith(prefix)]


def witnessed(runtime: Runtime) -> list[Checkpoint]:
    path = runtime.settings.witness_path
    if not path.exists():
        return []
    return [Checkpoint.from_json(orjson.loads(line)) for line in path.read_bytes().splitlines()]


def stored(runtime: Runtime) -> list[int]:
    with runtime.db.read() as session:
        return list(session.scalars(select(AuditCheckpoint.size).order_by(AuditCheckpoint.id)))


def test_checkpoints_every_n_entries_or_t_seconds_when_something_is_new(
    rt: Runtime, clock: FixedClock
) -> None:
    assert checkpoint_if_due(rt) is None  # an empty log: nothing to sign
    append(rt, 3)
    assert checkpoint_if_due(rt) is not None  # the first entries are signed at once
    append(rt, 4, per_transaction=4)
    assert checkpoint_if_due(rt) is None  # 4 new entries, a few seconds: not yet
    append(rt, 6, per_transaction=6)
    assert checkpoint_if_due(rt) is not None  # 10 new entries
    append(rt, 1)
    assert checkpoint_if_due(rt) is None
    clock.advance(timedelta(seconds=61))
    assert checkpoint_if_due(rt) is not None  # a minute with something new
    clock.advance(timedelta(seconds=61))
    assert checkpoint_if_due(rt) is None  # a minute with nothing new
    assert stored(rt) == [3, 13, 14]
    lines = witnessed(rt)
    assert [c.size for c in lines] == [3, 13, 14]
    assert all(signature_problem(c, rt.keyring.audit_public) is None for c in lines)
    assert verify(rt).checkpoints == 3


def test_a_checkpoint_the_witness_missed_is_witnessed_on_the_next_run(rt: Runtime) -> None:
    append(rt, 5)
    checkpoint(rt)
    rt.settings.witness_path.unlink()  # as if the process died between the commit and the append
    append(rt, 1)
    checkpoint_if_due(rt)
    assert [c.size for c in witnessed(rt)] == [5]


def test_old_checkpoints_keep_verifying_after_the_audit_key_is_rotated(
    rt: Runtime, guard_home: Path, db_url: str, clock: FixedClock
) -> None:
    append(rt, 5)
    old = checkpoint(rt)
    with transaction(rt.db.write) as session:
        rotate(session=session, master_key=rt.keyring.master_key, purpose="audit", now=clock.now())
    assert rt.reload_keys()  # what every worker's key job does: no restart
    append(rt, 5)
    new = checkpoint(rt)
    assert new.kid != old.kid
    report = verify(rt)
    assert (report.ok, report.checkpoints) == (True, 2)


def test_serve_runs_the_checkpoint_and_forwarding_jobs_in_one_worker(
    guard_home: Path, db_url: str, clock: FixedClock
) -> None:
    siem = {"name": "siem", "kind": "syslog", "host": "127.0.0.1", "port": 5514}
    runtime = make_runtime(guard_home, db_url, clock, forwarders=[siem])
    try:
        jobs = {job.name: job for job in build_jobs(runtime)}
    finally:
        runtime.close()
    assert jobs["audit-checkpoint"].leader_only
    assert jobs["audit-forward-siem"].leader_only


def test_the_scheduled_full_verify_records_its_outcome_and_damage_raises_a_critical_alert(
    rt: Runtime,
) -> None:
    jobs = {job.name: job for job in build_jobs(rt)}
    verify_job = jobs["audit-verify"]
    assert (verify_job.leader_only, verify_job.interval_seconds) == (True, 24 * 3600)
    append(rt, 30)
    checkpoint(rt)
    verify_job.run()
    unlock(rt.db.engine)
    sql(rt.db.engine, "UPDATE audit_entries SET body = replace(body, 'ann', 'eve') WHERE seq = 12")
    verify_job.run()
    outcomes = [
        (e["action"], e["payload"]["ok"], e["payload"]["first_bad_seq"]) for e in entries_of(rt, "audit.")
    ]
    assert outcomes == [("audit.verified", True, None), ("audit.damaged", False, 12)]
    engine_for(rt).run_once()
    [alert] = alerts(rt, rule="audit-damage")
    assert alert.severity == "critical"


def test_the_scheduled_verify_can_be_switched_off(guard_home: Path, db_url: str, clock: FixedClock) -> None:
    runtime = make_runtime(guard_home, db_url, clock, verify_every_hours=0)
    try:
        assert "audit-verify" not in {job.name for job in build_jobs(runtime)}
    finally:
        runtime.close()
