"""Group commit for SQLite: many requests' write units share one transaction and one fsync.

With `synchronous=FULL` every SQLite commit waits for the disk, and a disk that does a few hundred
flushes a second caps the broker at a few hundred decisions a second however fast the code is. Here the
units of work submitted by request threads are queued; one committer thread takes whatever is waiting,
runs the units back to back in one transaction, each in its own SAVEPOINT, and commits once (the
audit entries of the whole batch are chained in one go by the commit hook). A unit that fails rolls back
its own savepoint, with its own staged audit entries, and its caller gets its error; the other units are
neither affected nor run again. Each unit's decision, counter update and audit entry are written
atomically; if the commit fails, or the database itself fails under a unit (the connection may be
unusable), every unit of the batch fails (fail closed) and no answer leaves claiming a grant that is not
stored.

Units run one after another on the committer thread, so they see each other's writes exactly as if
they had been serialised by the database: counting stays exact. PostgreSQL needs none of this (it
groups concurrent commits itself), so the broker uses the batcher only on SQLite.

Callers on an event loop await `run_async`: the outcomes of a whole batch reach their loop in one
callback, instead of one thread-safe wake-up of the loop per unit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from guard.audit.log import discard_staged_after, staged_count
from guard.db import driver_cursor, end_unit
from guard.errors import GuardError, Unavailable

log = logging.getLogger("guard.access.batch")
T = TypeVar("T")
Waiter = Future[Any] | asyncio.Future[Any]  # a thread's or an event loop's
Unit = tuple[Callable[[Session], Any], Waiter]
Outcome = tuple[Any, BaseException | None]
IDLE_SECONDS = 2.0  # the committer thread ends when idle; the next unit starts a new one


class WriteBatcher:
    def __init__(self, factory: sessionmaker[Session], *, max_batch: int = 64) -> None:
        self._factory = factory
        self._max_batch = max_batch
        self._queue: queue.Queue[Unit] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, work: Callable[[Session], T]) -> Future[T]:
        """Queue `work` for a shared write transaction; the future resolves once it has committed."""
        future: Future[T] = Future()
        self._put(work, future)
        return future

    def run(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a shared write transaction; returns after that transaction committed."""
        return self.submit(work).result()

    async def run_async(self, work: Callable[[Session], T]) -> T:
        """`run` for a caller on an event loop, which stays free while the unit waits and runs."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._put(work, future)
        return await future

    def _put(self, work: Callable[[Session], Any], waiter: Waiter) -> None:
        with self._lock:
            self._queue.put((work, waiter))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="guard-write-batch", daemon=True)
                self._thread.start()

    def _take(self) -> list[Unit] | None:
        try:
            first = self._queue.get(timeout=IDLE_SECONDS)
        except queue.Empty:
            with self._lock:  # nothing may be queued between this check and the thread ending
                if self._queue.empty():
                    self._thread = None
                    return None
            return []
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _loop(self) -> None:
        try:
            while (batch := self._take()) is not None:
                # A caller that went away before its unit started (client gone) is skipped.
                started = [(work, waiter) for work, waiter in batch if _start(waiter)]
                if started:
                    try:
                        outcomes = self._commit(started)
                    except Exception:  # never let the committer die with units still waiting
                        log.exception("the write batcher failed")
                        outcomes = [(None, Unavailable("the write could not be completed"))] * len(started)
                    _settle([waiter for _, waiter in started], outcomes)
        finally:
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _commit(self, batch: list[Unit]) -> list[Outcome]:
        session = self._factory()
        try:
            try:
                outcomes = [_in_savepoint(session, work) for work, _ in batch]
            except BaseException as exc:
                end_unit(session, exc)  # rolls back; an outage is raised as Unavailable
                raise
            end_unit(session, None)
            return outcomes
        except BaseException as exc:
            log.error("a batch of writes failed; every request in it is refused", exc_info=exc)
            return [(None, exc)] * len(batch)
        finally:
            session.close()


def _in_savepoint(session: Session, work: Callable[[Session], Any]) -> Outcome:
    """Run one unit inside its own savepoint: its failure takes back only its own writes and entries.

    The savepoint is issued on the driver: SQLAlchemy's `begin_nested` costs about 200 us a unit on
    SQLite, a fifth of a whole decision (`python -m benchmarks broker`). What it would do for us is done
    here: the earlier units' changes are flushed before the savepoint opens; after a rollback to it the
    session forgets every object (the next unit reloads what it reads) and the unit's staged audit
    entries are dropped. A database error inside a unit fails the whole batch (the session's own state
    can no longer be trusted), as does any failure of these statements.
    """
    session.flush()
    mark = staged_count(session)
    connection = session.connection()
    with driver_cursor(connection, "savepoint") as cursor:
        cursor.execute(_SAVEPOINT)
    try:
        result = work(session)
    except GuardError as exc:
        if exc.keep_changes:  # the refusal's own record is meant to be kept
            _release(connection)
        else:
            _roll_back(session, connection, mark)
        return None, exc
    except DBAPIError:
        raise
    except Exception as exc:
        _roll_back(session, connection, mark)
        return None, exc
    _release(connection)
    return result, None


_SAVEPOINT = "SAVEPOINT guard_unit"


def _release(connection: Connection) -> None:
    with driver_cursor(connection, "release savepoint") as cursor:
        cursor.execute("RELEASE guard_unit")


def _roll_back(session: Session, connection: Connection, mark: int) -> None:
    with driver_cursor(connection, "rollback to savepoint") as cursor:
        cursor.execute("ROLLBACK TO guard_unit")
        cursor.execute("RELEASE guard_unit")
    session.expunge_all()
    discard_staged_after(session, mark)


def _start(waiter: Waiter) -> bool:
    """False when the caller has given up (cancelled) before its unit started."""
    if isinstance(waiter, asyncio.Future):
        return not waiter.cancelled()  # read across threads: at worst the unit runs and its answer is dropped
    return waiter.set_running_or_notify_cancel()


def _settle(waiters: list[Waiter], outcomes: list[Outcome]) -> None:
    on_loops: defaultdict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Outcome]]]
    on_loops = defaultdict(list)
    for waiter, outcome in zip(waiters, outcomes, strict=True):
        if isinstance(waiter, asyncio.Future):
            on_loops[waiter.get_loop()].append((waiter, outcome))
        else:
            _resolve(waiter, outcome)
    for loop, settled in on_loops.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve_all, settled)


def _resolve_all(settled: list[tuple[asyncio.Future[Any], Outcome]]) -> None:
    for waiter, outcome in settled:
        if not waiter.done():  # a caller may have been cancelled meanwhile
            _resolve(waiter, outcome)


def _resolve(waiter: Waiter, outcome: Outcome) -> None:
    result, error = outcome
    if error is None:
        waiter.set_result(result)
    else:
        waiter.set_exception(error)
