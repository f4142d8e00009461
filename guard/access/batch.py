"""Group commit for SQLite: many requests' write units share one transaction and one fsync.

With `synchronous=FULL` every SQLite commit waits for the disk, and a disk that does a few hundred
flushes a second caps the broker at a few hundred decisions a second however fast the code is. Here the
units of work submitted by request threads are queued; one committer thread takes whatever is waiting,
runs the units back to back in one transaction and commits once (the audit entries of the whole batch
are chained in one go by the commit hook). If a unit fails, the batch is rolled back and run again with
a SAVEPOINT per unit, so a failure rolls back alone and its caller gets its error. Each unit's
decision, counter update and audit entry are still written atomically; if the commit fails, every
unit of the batch fails (fail closed) and no answer leaves claiming a grant that is not stored.

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

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from guard.audit.log import flush_pending
from guard.db import database_problem
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
        try:
            try:
                return self._attempt(batch, isolated=False)
            except _Isolate:  # a unit failed: run them again, each in its own savepoint
                return self._attempt(batch, isolated=True)
        except BaseException as exc:
            problem = database_problem(exc) if isinstance(exc, DBAPIError) else exc
            log.error("a batch of writes failed; every request in it is refused", exc_info=exc)
            return [(None, problem)] * len(batch)

    def _attempt(self, batch: list[Unit], *, isolated: bool) -> list[Outcome]:
        """One transaction for the whole batch. Optimistically the units run back to back and their audit
        entries are chained once, at commit; if one fails, the batch is rolled back (_Isolate) and run
        again with a savepoint per unit, so the failure stays with its own request."""
        session = self._factory()
        try:
            outcomes = [self._isolated(session, w) if isolated else self._plain(session, w) for w, _ in batch]
            session.commit()
            return outcomes
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @staticmethod
    def _plain(session: Session, work: Callable[[Session], Any]) -> Outcome:
        try:
            return work(session), None
        except GuardError as exc:
            if exc.keep_changes:  # the refusal's own record is meant to be kept
                return None, exc
            raise _Isolate from exc
        except DBAPIError:
            raise  # the connection may be unusable: fail the whole batch
        except Exception as exc:
            raise _Isolate from exc

    @staticmethod
    def _isolated(session: Session, work: Callable[[Session], Any]) -> Outcome:
        savepoint = session.begin_nested()
        try:
            result = work(session)
        except GuardError as exc:
            if exc.keep_changes:
                flush_pending(session)
                savepoint.commit()
            else:
                savepoint.rollback()
            return None, exc
        except DBAPIError:
            savepoint.rollback()
            raise
        except Exception as exc:
            savepoint.rollback()
            return None, exc
        flush_pending(session)  # chain this unit's audit entries inside its savepoint
        savepoint.commit()
        return result, None


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


class _Isolate(Exception):
    """A unit of an optimistic batch failed; the batch is retried with one savepoint per unit."""
