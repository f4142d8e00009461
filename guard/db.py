"""Engine, sessions and column types shared by every area.

SQLite runs in WAL mode with foreign keys and a busy timeout. Writing transactions on SQLite start
with BEGIN IMMEDIATE: a deferred transaction that reads first and writes later can fail at once with
SQLITE_BUSY under concurrency, while IMMEDIATE waits its turn for the write lock (which is also the
audit chain-head lock on SQLite).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, DateTime, Engine, MetaData, String, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.orm import DeclarativeBase, Session, class_mapper, sessionmaker
from sqlalchemy.types import TypeDecorator

from guard.errors import GuardError, Unavailable

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


M = TypeVar("M", bound=Base)


def new_id() -> str:
    """Opaque, unguessable identifier (128 bits, hex)."""
    return secrets.token_hex(16)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def plain_instance(model: type[M], **values: Any) -> M:
    """An instance of `model` holding `values`, made the way the ORM makes the object of a loaded row:
    without the constructor's change events, which cost tens of microseconds for a wide row. For rows
    the caller inserts with Core and afterwards only reads; no session ever tracks the object."""
    instance: M = class_mapper(model).class_manager.new_instance()
    vars(instance).update(values)
    return instance


IdColumn = String(32)
PING_AFTER_IDLE_SECONDS = 1.0  # PostgreSQL: pooled connections idle longer than this are checked first


@dataclass(frozen=True)
class Database:
    """The engine plus two session factories: `read` (deferred) and `write` (immediate on SQLite)."""

    engine: Engine
    read: sessionmaker[Session]
    write: sessionmaker[Session]

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(
    url: str,
    *,
    busy_timeout_ms: int = 30_000,
    synchronous: str = "FULL",
    ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS,
    **kwargs: Any,
) -> Engine:
    if url.startswith("sqlite"):
        _owner_only(make_url(url).database)
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000}, **kwargs)
        _configure_sqlite(engine, busy_timeout_ms=busy_timeout_ms, synchronous=synchronous)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    _ping_idle_connections(engine, idle_seconds=ping_after_idle_seconds)
    return engine


def _owner_only(database: str | None) -> None:
    """The SQLite file holds every person, grant and audit entry: only Guard's own user may read it.
    SQLite gives its -wal and -shm files the database file's permissions, so creating it (or tightening
    an older one) owner-only covers all three."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(0o600)


def _ping_idle_connections(engine: Engine, *, idle_seconds: float) -> None:
    """Check a pooled connection that sat idle before handing it out; trust one returned a moment ago.

    SQLAlchemy's pre-ping would add a round trip to every transaction. A connection that idled longer
    than `idle_seconds` (where server restarts, idle timeouts and dropped sockets show up) is pinged,
    and a dead one is replaced, together with every pooled connection older than it, before anyone uses
    it. One that died in the last moment fails its request as unavailable (503, nothing written) and is
    discarded the same way, so the next request gets a fresh connection.
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _handed_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")  # None: a new connection, just opened
        if returned is None or time.monotonic() - returned < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise InvalidatePoolError("a pooled connection was found closed") from exc
            raise


def _configure_sqlite(engine: Engine, *, busy_timeout_ms: int, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        statement = f"BEGIN {connection.get_execution_options().get('sqlite_begin', 'DEFERRED')}"
        # Straight to the driver: this runs for every transaction, and SQLAlchemy's statement
        # machinery costs several times what BEGIN does.
        with driver_errors(connection, statement):
            connection.connection.driver_connection.execute(statement)


@contextmanager
def driver_errors(connection: Connection, what: str) -> Iterator[None]:
    """Statements run on the driver's own cursor raise SQLAlchemy's errors, as if they had gone through
    it: callers (and `transaction`) tell a database outage from a bug the same way for both."""
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as exc:
        raise DBAPIError.instance(what, None, exc, dbapi_error, dialect=connection.dialect) from exc


@contextmanager
def driver_cursor(connection: Connection, what: str) -> Iterator[Any]:
    """The driver's own cursor on `connection` (in its current transaction), for statements that skip
    SQLAlchemy's per-statement machinery; its errors are raised as SQLAlchemy's (see driver_errors)."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with driver_errors(connection, what):
            yield cursor
    finally:
        cursor.close()


def open_database(
    url: str, *, busy_timeout_ms: int = 30_000, synchronous: str = "FULL", **kwargs: Any
) -> Database:
    """`kwargs` go to `make_engine` (and from there to SQLAlchemy's create_engine)."""
    engine = make_engine(url, busy_timeout_ms=busy_timeout_ms, synchronous=synchronous, **kwargs)
    write_engine = (
        engine.execution_options(sqlite_begin="IMMEDIATE") if engine.dialect.name == "sqlite" else engine
    )
    return Database(
        engine=engine,
        read=sessionmaker(engine, expire_on_commit=False),
        write=sessionmaker(write_engine, expire_on_commit=False),
    )


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error; database trouble is Unavailable."""
    session = factory()
    try:
        yield session
    except BaseException as exc:
        end_unit(session, exc)
        raise
    else:
        end_unit(session, None)
    finally:
        session.close()


def end_unit(session: Session, error: BaseException | None) -> None:
    """How every unit of work ends (routes, CLI, jobs): commit after success or after a refusal whose own
    record must be kept (`keep_changes`), roll back after anything else. A database that cannot commit or
    is gone is `Unavailable`, raised from the original error."""
    commit = error is None or (isinstance(error, GuardError) and error.keep_changes)
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except DBAPIError as exc:
        session.rollback()
        raise database_problem(exc) from exc
    if isinstance(error, DBAPIError) and not isinstance(error, GuardError):
        problem = database_problem(error)
        if problem is not error:
            raise problem from error


def database_problem(exc: DBAPIError) -> BaseException:
    """An outage (connection lost, database locked or gone) is Unavailable: a 503, nothing changed. Any
    other database error is a bug and stays itself."""
    if exc.connection_invalidated or _is_operational(exc):
        return Unavailable("the database is not available; nothing was changed")
    return exc


def _is_operational(exc: DBAPIError) -> bool:
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError)
