"""Appending: append-only in the database, nothing happens without its entry, gap-free under concurrency."""

from __future__ import annotations

import multiprocessing

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from guard.audit.models import AuditCheckpoint, AuditEntry
from guard.db import make_engine
from guard.people.models import User
from guard.runtime import Runtime
from tests.audit.helpers import append, checkpoint, verify
from tests.audit.workers import append_entries
from tests.support.people import People

WORKERS, TRANSACTIONS = 4, 40


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET hash = prev_hash WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 1",
        "DELETE FROM audit_entries",
        "UPDATE audit_checkpoints SET size = 1",
        "DELETE FROM audit_checkpoints",
    ],
)
def test_triggers_refuse_changes_to_entries_and_checkpoints(runtime: Runtime, statement: str) -> None:
    append(runtime, 3)
    checkpoint(runtime)
    with pytest.raises(DBAPIError, match="append-only"), runtime.db.engine.begin() as connection:
        connection.execute(text(statement))
    assert verify(runtime).ok


def test_truncate_is_refused_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        for table in ("audit_entries", "audit_checkpoints"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {table}"))
    finally:
        engine.dispose()


def _make_audit_inserts_fail(runtime: Runtime) -> None:
    statements = (
        [
            "CREATE TRIGGER audit_entries_fail BEFORE INSERT ON audit_entries "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        ]
        if runtime.db.is_sqlite
        else [
            "CREATE FUNCTION audit_fail() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'disk full'; END $$",
            "CREATE TRIGGER audit_entries_fail BEFORE INSERT ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION audit_fail()",
        ]
    )
    with runtime.db.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def test_a_failed_audit_write_rolls_back_the_change_and_answers_503(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    admin = people.admin
    _make_audit_inserts_fail(runtime)
    body = {"username": "zed", "display_name": "Zed", "email": "zed@example.com", "roles": ["ingest"]}
    response = client.post("/users", json=body, headers=admin.auth)
    assert response.status_code == 503
    assert "nothing was changed" in response.json()["detail"]
    with runtime.db.read() as session:
        assert session.scalar(select(User.id).where(User.username == "zed")) is None
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.target == "user:zed")
            )
            == 0
        )


# One entry per transaction takes PostgreSQL's single-statement append; several take the general one.
@pytest.mark.parametrize("per_transaction", [1, 3], ids=["one entry", "three entries"])
def test_several_processes_appending_at_once_make_one_gap_free_chain(
    runtime: Runtime, db_url: str, per_transaction: int
) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    processes = [
        context.Process(target=append_entries, args=(db_url, worker, TRANSACTIONS, per_transaction, start))
        for worker in range(WORKERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * WORKERS
    total = WORKERS * TRANSACTIONS * per_transaction
    with runtime.db.read() as session:
        seqs = list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
        # Each transaction's entries stay together: seq order never interleaves two transactions.
        rows = session.execute(select(AuditEntry.actor, AuditEntry.target).order_by(AuditEntry.seq)).all()
    assert seqs == list(range(1, total + 1))
    groups = [rows[i : i + per_transaction] for i in range(0, total, per_transaction)]
    assert all(len(set(group)) == 1 for group in groups)
    report = verify(runtime)
    assert (report.ok, report.entries) == (True, total)


def test_checkpoints_table_keeps_what_was_signed(runtime: Runtime) -> None:
    append(runtime, 4)
    signed = checkpoint(runtime)
    with runtime.db.read() as session:
        stored = session.scalars(select(AuditCheckpoint)).one()
    assert (stored.size, stored.head_hash, stored.kid) == (
        4,
        signed.head_hash,
        runtime.keyring.audit_signing.kid,
    )
