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


def test_the_triage_migration_renames_statuses_and_keeps_each_note_as_history(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    upgrade(engine, "0014_role_changes")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    alerts = [
        ("a1", "open", None, None, None),
        ("a2", "acknowledged", "calling ann", "sec", None),
        ("a3", "resolved", "a drill", "sec", "tess"),
    ]
    with engine.begin() as connection:
        for alert_id, status, note, acked_by, resolved_by in alerts:
            connection.execute(
                text(
                    "INSERT INTO alerts (id, rule, rule_type, severity, username, status, summary, "
                    "threshold, observed, evidence, trigger_seq, event_ts, lookback, details, responses, "
                    "created_at, acknowledged_by, acknowledged_at, resolved_by, resolved_at, note) VALUES "
                    "(:id, 'honeytoken', 'honeytoken', 'critical', 'ann', :status, 's', 1, 1, '[1]', 1, "
                    ":now, false, '{}', '[]', :now, :acked_by, :acked_at, :resolved_by, :resolved_at, :note)"
                ),
                {
                    "id": alert_id,
                    "status": status,
                    "note": note,
                    "now": now,
                    "acked_by": acked_by,
                    "acked_at": now if acked_by else None,
                    "resolved_by": resolved_by,
                    "resolved_at": now if resolved_by else None,
                },
            )
    upgrade(engine)
    with engine.connect() as connection:
        statuses = dict(connection.execute(text("SELECT id, status FROM alerts")).all())
        notes = connection.execute(
            text("SELECT alert_id, position, kind, author, text FROM alert_notes ORDER BY alert_id")
        ).all()
        last_events = {r[0] for r in connection.execute(text("SELECT last_event_ts FROM alerts")).all()}
    engine.dispose()
    assert statuses == {"a1": "new", "a2": "in_review", "a3": "resolved"}
    assert [tuple(n) for n in notes] == [
        ("a2", 1, "review", "sec", "calling ann"),
        ("a3", 1, "resolve", "tess", "a drill"),
    ]
    assert None not in last_events
