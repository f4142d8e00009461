"""PostgreSQL connections that die in the pool: replaced before use, or refused once and then replaced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from guard.db import Database, open_database, transaction
from guard.errors import Unavailable


def _kill(url: str, pid: int) -> None:
    """What a server restart or an idle timeout does to a pooled connection."""
    admin = create_engine(url)
    with admin.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()


@pytest.fixture
def databases(postgres_url: str) -> Iterator[dict[str, Database]]:
    opened = {
        "checks idle": open_database(postgres_url, ping_after_idle_seconds=0, pool_size=1),
        "trusts recent": open_database(postgres_url, ping_after_idle_seconds=3600, pool_size=1),
    }
    yield opened
    for db in opened.values():
        db.dispose()


def _backend_pid(db: Database) -> int:
    """The server process behind the pooled connection a transaction gets (returned to the pool after)."""
    with transaction(db.write) as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_an_idle_connection_that_died_is_replaced_before_use(
    postgres_url: str, databases: dict[str, Database]
) -> None:
    db = databases["checks idle"]
    dead = _backend_pid(db)
    _kill(postgres_url, dead)

    assert _backend_pid(db) != dead


def test_a_connection_that_just_died_fails_one_request_as_unavailable(
    postgres_url: str, databases: dict[str, Database]
) -> None:
    db = databases["trusts recent"]
    dead = _backend_pid(db)
    _kill(postgres_url, dead)

    with pytest.raises(Unavailable):
        _backend_pid(db)
    assert _backend_pid(db) != dead
