"""Prepared statements store and read values exactly as SQLAlchemy does, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from guard.db import UTCDateTime, make_engine
from guard.prepared import PreparedStatement

metadata = MetaData()
samples = Table(
    "prepared_samples",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("items", JSON),
    Column("at", UTCDateTime),
    Column("flag", Boolean),
    Column("count", Integer),
)
INSERT = PreparedStatement(insert(samples), what="inserting a sample")
BY_ID = PreparedStatement(select(samples).where(samples.c.id == bindparam("id")), what="reading a sample")
ROWS: list[dict[str, Any]] = [
    {"id": "a", "items": ["x", 1], "at": datetime(2026, 3, 2, 9, 1, 5, tzinfo=UTC), "flag": True, "count": 3},
    {"id": "b", "items": None, "at": None, "flag": False, "count": None},
]


@pytest.fixture
def connection(db_url: str) -> Iterator[Connection]:
    engine = make_engine(db_url)
    metadata.create_all(engine)
    with engine.connect() as conn, conn.begin():
        yield conn
    engine.dispose()


def _raw(connection: Connection, row_id: str) -> tuple[Any, ...]:
    """What the database itself holds, before any type conversion."""
    found = connection.exec_driver_sql(
        "SELECT id, items, at, flag, count FROM prepared_samples WHERE id = "
        + ("?" if connection.dialect.name == "sqlite" else "%(id)s"),
        (row_id,) if connection.dialect.name == "sqlite" else {"id": row_id},
    )
    return tuple(found.one())[1:]


@pytest.mark.parametrize("row", ROWS, ids=["values", "nulls"])
def test_a_prepared_insert_stores_what_sqlalchemy_stores(connection: Connection, row: dict[str, Any]) -> None:
    INSERT.rows(connection, row)
    connection.execute(insert(samples), {**row, "id": row["id"] + "-core"})

    assert _raw(connection, row["id"]) == _raw(connection, row["id"] + "-core")


@pytest.mark.parametrize("row", ROWS, ids=["values", "nulls"])
def test_a_prepared_select_reads_what_sqlalchemy_reads(connection: Connection, row: dict[str, Any]) -> None:
    connection.execute(insert(samples), row)

    through_core = connection.execute(select(samples).where(samples.c.id == row["id"])).one()
    assert BY_ID.first(connection, {"id": row["id"]}) == tuple(through_core) == tuple(row.values())
    assert BY_ID.first(connection, {"id": "missing"}) is None


def test_a_driver_error_is_raised_as_sqlalchemys(connection: Connection) -> None:
    INSERT.rows(connection, ROWS[0])

    with pytest.raises(IntegrityError, match="inserting a sample"):
        INSERT.rows(connection, ROWS[0])


def test_statements_with_expanding_lists_are_refused(connection: Connection) -> None:
    listed = PreparedStatement(
        select(samples).where(samples.c.id.in_(bindparam("ids", expanding=True))), what="listing samples"
    )

    with pytest.raises(TypeError, match="expanding"):
        listed.rows(connection, {"ids": ["a"]})
