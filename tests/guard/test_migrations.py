"""The migrations build exactly the schema the models describe, and SQLite runs with the promised pragmas."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from guard.db import make_engine
from guard.migrate import upgrade
from guard.models import metadata
from tests.support import databases


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path}/x.db", busy_timeout_ms=1234)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 1234
    engine.dispose()


@pytest.fixture(params=databases.LANES)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on each lane."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/empty.db"
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(databases.POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    try:
        yield databases.postgres_schema_url(schema)
    finally:
        databases.drop_postgres_schema(schema)


def test_the_holds_migration_carries_old_suspensions_and_approval_requirements(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    upgrade(engine, "0007_team_watch")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    people = [
        ("u1", "ann", "suspended", None),
        ("u2", "bob", "active", "alert 7 (honeytoken)"),
        ("u3", "cy", "notice", None),
    ]
    with engine.begin() as connection:
        for user_id, name, status, reason in people:
            connection.execute(
                text(
                    "INSERT INTO users (id, username, display_name, email, department, roles, status, "
                    "token_version, approval_required_reason, created_at, updated_at) VALUES "
                    "(:id, :name, :name, :email, '', '[]', :status, 1, :reason, :now, :now)"
                ),
                {
                    "id": user_id,
                    "name": name,
                    "email": f"{name}@example.com",
                    "status": status,
                    "reason": reason,
                    "now": now,
                },
            )
    upgrade(engine)
    with engine.connect() as connection:
        lifecycles = dict(connection.execute(text("SELECT username, lifecycle FROM users")).all())
        holds = connection.execute(
            text("SELECT user_id, kind, reason, lifted_at FROM user_holds ORDER BY user_id")
        ).all()
    engine.dispose()
    assert lifecycles == {"ann": "active", "bob": "active", "cy": "notice"}
    assert [(h[0], h[1], h[3]) for h in holds] == [("u1", "suspended", None), ("u2", "review", None)]
    assert holds[1][2] == "alert 7 (honeytoken)"
