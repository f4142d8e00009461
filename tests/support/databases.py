"""Each test gets its own database: a copy of a migrated SQLite file, or a fresh PostgreSQL schema."""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from guard.db import make_engine
from guard.keys.material import MASTER_KEY_FILE, write_private
from guard.keys.store import create_missing
from guard.migrate import upgrade

POSTGRES_URL = os.environ.get("GUARD_TEST_POSTGRES_URL", "").strip()
IN_CI = os.environ.get("CI", "").lower() == "true"
LANES = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]
# One master key for the test run: every test database holds signing keys sealed under it, as `guard init`
# leaves them, and every test home is given it.
TEST_MASTER_KEY = os.urandom(32)


def give_master_key(home: Path) -> None:
    """A Guard home as `guard init` leaves one: the keys folder with this run's master key."""
    keys = home / "keys"
    keys.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(keys / MASTER_KEY_FILE, base64.b64encode(TEST_MASTER_KEY) + b"\n")


def _migrate_with_keys(engine: Engine) -> None:
    upgrade(engine)
    with Session(engine) as session, session.begin():
        create_missing(session=session, master_key=TEST_MASTER_KEY, now=datetime.now(UTC), key_files=None)


def check_postgres() -> str | None:
    """None when PostgreSQL answers, else why not."""
    if not POSTGRES_URL:
        return "GUARD_TEST_POSTGRES_URL is not set"
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"cannot connect to {POSTGRES_URL}: {exc}"
    return None


def migrated_sqlite_template(folder: Path) -> Path:
    path = folder / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    _migrate_with_keys(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def sqlite_copy(template: Path, folder: Path) -> str:
    target = folder / "guard.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def postgres_schema_url(schema: str) -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"


def create_postgres_schema(*, migrate: bool = True) -> tuple[str, str]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = postgres_schema_url(schema)
    if migrate:
        engine = create_engine(url)
        _migrate_with_keys(engine)
        engine.dispose()
    return schema, url


def drop_postgres_schema(schema: str) -> None:
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()
