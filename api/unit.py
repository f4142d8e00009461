"""One thread, one transaction: the unit of work of the broker's contended endpoints.

Why not SessionDep and PrincipalDep here. FastAPI runs each sync dependency and the route in separate
hops to its thread pool, and with SessionDep the transaction is held from the principal lookup in one
hop until the commit in another: on SQLite the write lock (BEGIN IMMEDIATE takes it at the first query),
on PostgreSQL a pooled connection and any row lock the route took. When more requests arrive at once
than the pool has threads, the waiting requests fill every thread while the request holding the lock
waits for a thread to commit in: a stall until the busy or pool timeout (SQLite) or for ever (a
PostgreSQL row lock). Fifty simultaneous access requests for one document are exactly that case.

So each request is one unit: open the write transaction, authenticate, run the service, commit or roll
back, all on one thread, so whoever holds a lock also holds the thread that will release it. On
PostgreSQL that is one hop to the thread pool per request.

On SQLite the units of all requests go to a group committer (guard.access.batch) instead: they run one
after another on its thread, each in its own savepoint (a failing one never runs the others again), and
share one commit, so one disk flush serves many decisions; the request only awaits the result and holds
no thread at all. Queueing there also keeps writers out of SQLite's busy handler, which sleeps in steps
of milliseconds and leaves the database idle between them. Either way the decision, the quota counter and
the audit entry of a request commit together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import authenticate, note_key_use, read_credential
from guard.access.batch import WriteBatcher
from guard.audit.log import act_with
from guard.auth.service import Credential, Principal
from guard.db import transaction
from guard.runtime import Runtime

T = TypeVar("T")
_batchers_lock = threading.Lock()


def _batcher(request: Request, runtime: Runtime) -> WriteBatcher:
    state = request.app.state
    with _batchers_lock:
        batcher: WriteBatcher | None = getattr(state, "write_batcher", None)
        if batcher is None:
            batcher = state.write_batcher = WriteBatcher(runtime.db.write)
        return batcher


def _in_transaction(runtime: Runtime, work: Callable[[Session], T]) -> T:
    with transaction(runtime.db.write) as session:
        return work(session)


async def _unit(request: Request, runtime: Runtime, work: Callable[[Session], T]) -> T:
    if runtime.db.is_sqlite:
        return await _batcher(request, runtime).run_async(work)
    return await run_in_threadpool(_in_transaction, runtime, work)


async def as_principal(
    request: Request,
    runtime: Runtime,
    now: datetime,
    work: Callable[[Session, Principal], T],
    *,
    credential: Credential | None = None,
) -> T:
    """Authenticate and run `work` in one write transaction. The credential's signature and expiry are
    checked first, on the event loop (no database, memoised per token), so a bad token never takes a
    thread or a place in a write batch; the person behind it is checked inside the unit, in the same
    transaction as the work. The credential is the request's Authorization header unless the caller read
    it elsewhere (the console's session cookie)."""
    credential = credential or read_credential(request, runtime, now)

    def authenticated(session: Session) -> T:
        act_with(session, None)  # units share a session in a batch: nothing carries over from the last
        principal = authenticate(request, session, credential, now)
        act_with(session, principal.credential())
        note_key_use(session, principal, now)
        return work(session, principal)

    return await _unit(request, runtime, authenticated)


async def anonymous(request: Request, runtime: Runtime, work: Callable[[Session], T]) -> T:
    """Run `work` in one write transaction (the credential is in the request itself, e.g. a content
    token, and its entries say what they need about it)."""

    def unattributed(session: Session) -> T:
        act_with(session, None)  # units share a session in a batch: nothing carries over from the last
        return work(session)

    return await _unit(request, runtime, unattributed)
