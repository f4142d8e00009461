"""Group commit on SQLite: units share a transaction, yet each one's failure stays its own."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from guard.access.batch import WriteBatcher
from guard.audit.log import record
from guard.audit.models import AuditEntry
from guard.db import Database
from guard.errors import Conflict, InvalidInput
from guard.people.models import User
from guard.runtime import Runtime, open_db
from guard.settings import load_settings
from tests.broker.helpers import REASON, Broker
from tests.support import databases


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """The group committer serves SQLite only: these tests need no PostgreSQL lane."""
    db = open_db(load_settings(database_url=databases.sqlite_copy(sqlite_template, tmp_path)))
    yield db
    db.dispose()


def entries(db: Database) -> list[tuple[str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.body).where(AuditEntry.action.like("t.%"))
        )
        return sorted((action, json.loads(body)["payload"]["n"]) for action, body in rows)


def unit(n: int, *, fail: type[Exception] | None = None, keep: bool = False, runs: list[int] | None = None):  # type: ignore[no-untyped-def]
    def work(session: Session) -> int:
        if runs is not None:
            runs.append(n)
        record(session=session, actor="t", action="t.unit", payload={"n": n})
        if fail is InvalidInput:
            raise InvalidInput(f"unit {n} is refused", keep_changes=keep)
        if fail is not None:
            raise fail(f"unit {n} broke")
        return n

    return work


def test_a_failing_unit_rolls_back_alone(sqlite_db: Database) -> None:
    batcher = WriteBatcher(sqlite_db.write)
    gate = threading.Event()
    # Hold the committer with a first unit so that the next ones queue up and form one batch.
    first = batcher.submit(lambda s: gate.wait(10) and 0)
    runs: list[int] = []
    futures = [
        batcher.submit(unit(1, runs=runs)),
        batcher.submit(unit(2, fail=InvalidInput, runs=runs)),
        batcher.submit(unit(3, fail=InvalidInput, keep=True, runs=runs)),
        batcher.submit(unit(4, fail=RuntimeError, runs=runs)),
        batcher.submit(unit(5, runs=runs)),
    ]
    gate.set()
    assert first.result(10) == 0
    assert futures[0].result(10) == 1
    assert futures[4].result(10) == 5
    with pytest.raises(InvalidInput):
        futures[1].result(10)
    with pytest.raises(InvalidInput):
        futures[2].result(10)
    with pytest.raises(RuntimeError):
        futures[3].result(10)
    # Kept: the successes and the refusal whose record is meant to persist; nothing of 2 and 4.
    assert entries(sqlite_db) == [("t.unit", 1), ("t.unit", 3), ("t.unit", 5)]
    # Each unit ran once, in order: a failure is never a reason to run the others again.
    assert runs == [1, 2, 3, 4, 5]


def test_a_failed_unit_leaves_no_stale_objects_for_the_next_one(sqlite_db: Database) -> None:
    at = datetime.now(UTC)
    with sqlite_db.write() as session, session.begin():
        session.add(
            User(id="u1", username="ann", display_name="Ann", email="a@x", created_at=at, updated_at=at)
        )
    batcher = WriteBatcher(sqlite_db.write)

    def renames_then_fails(session: Session) -> None:
        user = session.get(User, "u1")
        assert user is not None
        user.display_name = "Changed"
        session.flush()  # the change reached the database inside this unit's savepoint
        raise InvalidInput("refused after writing")

    def reads(session: Session) -> str:
        user = session.get(User, "u1")
        assert user is not None
        return user.display_name

    gate = threading.Event()
    first = batcher.submit(lambda s: gate.wait(10) and 0)
    failed, read = batcher.submit(renames_then_fails), batcher.submit(reads)
    gate.set()
    first.result(10)
    with pytest.raises(InvalidInput):
        failed.result(10)
    assert read.result(10) == "Ann"  # same batch, same session: neither the row nor the object kept it
    with sqlite_db.read() as session:
        assert session.get(User, "u1").display_name == "Ann"  # type: ignore[union-attr]


def test_a_failed_commit_fails_every_unit_of_the_batch(sqlite_db: Database) -> None:
    batcher = WriteBatcher(sqlite_db.write)

    def breaks_the_connection(session: Session) -> int:
        session.execute(text("SELECT * FROM no_such_table"))
        return 0

    gate = threading.Event()
    first = batcher.submit(lambda s: gate.wait(10) and 0)
    good, bad = batcher.submit(unit(1)), batcher.submit(breaks_the_connection)
    gate.set()
    first.result(10)
    for future in (good, bad):
        with pytest.raises(Exception):  # noqa: PT011 - the database error itself
            future.result(10)
    assert entries(sqlite_db) == []


def test_conflicts_inside_a_batch_are_errors_of_their_own_request(sqlite_db: Database) -> None:
    batcher = WriteBatcher(sqlite_db.write)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: batcher.submit(unit(n)).result(10), range(20)))
    assert results == list(range(20))

    def clashes(session: Session) -> None:
        raise Conflict("already decided")

    with pytest.raises(Conflict):
        batcher.run(clashes)
    assert len(entries(sqlite_db)) == 20


def test_bad_requests_mixed_into_a_burst_do_not_disturb_the_others(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann), classification="public")

    def send(n: int):  # type: ignore[no-untyped-def]
        reason = REASON if n % 3 else "short"
        body = {"document_id": document, "action": "view", "reason": reason}
        return client.post("/access-requests", json=body, headers=ann.auth)

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(send, range(12)))
    assert sorted(a.status_code for a in answers) == [201] * 8 + [422] * 4
    assert (
        sorted(a.json()["status"] for a in answers if a.status_code == 201)
        == ["granted"] * 3 + ["pending"] * 5
    )
    with runtime.db.read() as session:
        decided = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "access.view")
        )
    assert decided == 8


def test_a_caller_gone_before_its_unit_started_is_skipped(sqlite_db: Database) -> None:
    batcher = WriteBatcher(sqlite_db.write)
    gate = threading.Event()
    first = batcher.submit(lambda s: gate.wait(10) and 0)
    abandoned = batcher.submit(unit(1))
    assert abandoned.cancel()  # e.g. the client disconnected while its request was queued
    gate.set()
    first.result(10)
    assert batcher.run(unit(2)) == 2  # the committer carries on
    assert entries(sqlite_db) == [("t.unit", 2)]


def test_callers_on_an_event_loop_get_their_own_outcomes(sqlite_db: Database) -> None:
    batcher = WriteBatcher(sqlite_db.write)
    running, gate = threading.Event(), threading.Event()

    def holds_the_committer(session: Session) -> int:
        running.set()
        gate.wait(10)
        return 0

    async def callers() -> list[object]:
        first = batcher.submit(holds_the_committer)
        assert await asyncio.to_thread(running.wait, 10)
        # Queued behind the running unit, so they form one batch.
        asked = [asyncio.ensure_future(batcher.run_async(unit(n))) for n in (1, 2)]
        refused = asyncio.ensure_future(batcher.run_async(unit(3, fail=InvalidInput)))
        abandoned = asyncio.ensure_future(batcher.run_async(unit(4)))
        await asyncio.sleep(0)  # every unit is queued
        abandoned.cancel()  # the client went away while its request waited
        gate.set()
        assert await asyncio.wrap_future(first) == 0
        return await asyncio.gather(*asked, refused, return_exceptions=True)

    one, two, three = asyncio.run(callers())

    assert (one, two) == (1, 2)
    assert isinstance(three, InvalidInput)
    assert entries(sqlite_db) == [("t.unit", 1), ("t.unit", 2)]


def test_a_bad_token_is_refused_without_a_place_in_the_write_queue(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    if not runtime.db.is_sqlite:
        pytest.skip("SQLite only: the write queue")
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann), classification="public")
    batcher = client.app.state.write_batcher = WriteBatcher(runtime.db.write)  # type: ignore[attr-defined]
    running, gate = threading.Event(), threading.Event()

    def holds_the_committer(session: Session) -> int:
        running.set()
        gate.wait(10)
        return 0

    held = batcher.submit(holds_the_committer)
    assert running.wait(10)
    body = {"document_id": document, "action": "view", "reason": REASON}
    forged = ann.auth["Authorization"][:-4] + "AAAA"
    # Answered while every write waits behind the held unit: the signature is checked before queueing.
    for header in (forged, "Bearer not-a-token", "Basic eDp5"):
        answer = client.post("/access-requests", json=body, headers={"Authorization": header})
        assert answer.status_code == 401, answer.text
        assert not held.done()
    gate.set()
    assert held.result(10) == 0
    granted = client.post("/access-requests", json=body, headers=ann.auth)
    assert granted.status_code == 201
    assert granted.json()["status"] == "granted"
