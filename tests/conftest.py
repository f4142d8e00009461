"""Shared fixtures. Every test that takes `db_url` (directly or through `runtime`, `app`, `client`)
runs once on SQLite and once on PostgreSQL when GUARD_TEST_POSTGRES_URL is set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from guard.clock import FixedClock
from guard.runtime import Runtime, build_runtime
from guard.settings import Settings
from tests.broker.helpers import Broker
from tests.support import databases
from tests.support.people import People
from tests.support.settings import guard_settings

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning
pytest_plugins = ["tests.support.s3"]  # s3_server and bucket: a local S3-compatible server


def pytest_sessionstart(session: pytest.Session) -> None:
    if databases.POSTGRES_URL or databases.IN_CI:
        problem = databases.check_postgres()
        if problem and databases.IN_CI:
            pytest.exit(f"the PostgreSQL lane must run in CI, but {problem}", returncode=3)
        if problem and databases.POSTGRES_URL:
            pytest.exit(f"GUARD_TEST_POSTGRES_URL is set but {problem}", returncode=3)


def pytest_report_header() -> str:
    return f"database lanes: {', '.join(databases.LANES)}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.migrated_sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(params=databases.LANES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield databases.sqlite_copy(sqlite_template, tmp_path)
        return
    schema, url = databases.create_postgres_schema()
    try:
        yield url
    finally:
        databases.drop_postgres_schema(schema)


@pytest.fixture(params=databases.LANES)
def bare_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, as a new deployment has it before `guard init`."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'guard.db'}"
        return
    schema, url = databases.create_postgres_schema(migrate=False)
    try:
        yield url
    finally:
        databases.drop_postgres_schema(schema)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """For tests that need several worker processes: a fresh PostgreSQL schema, no SQLite lane."""
    if not databases.POSTGRES_URL:
        pytest.skip("needs PostgreSQL: set GUARD_TEST_POSTGRES_URL")
    schema, url = databases.create_postgres_schema()
    try:
        yield url
    finally:
        databases.drop_postgres_schema(schema)


@pytest.fixture
def pg_people(postgres_url: str, guard_home: Path, clock: FixedClock) -> Iterator[People]:
    """`people` on the PostgreSQL schema of `postgres_url`."""
    settings = guard_settings(guard_home, postgres_url)
    rt = build_runtime(settings, clock=clock)
    with TestClient(create_app(runtime=rt)) as test_client:
        yield People(test_client, rt)
    rt.close()


@pytest.fixture
def guard_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    databases.give_master_key(home)
    return home


@pytest.fixture
def settings(guard_home: Path, db_url: str) -> Settings:
    return guard_settings(guard_home, db_url)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    rt = build_runtime(settings, clock=clock)
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime):  # type: ignore[no-untyped-def]
    return create_app(runtime=runtime)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def people(client: TestClient, runtime: Runtime) -> People:
    return People(client, runtime)


@pytest.fixture
def broker(client: TestClient, people: People) -> Broker:
    return Broker(client, people)
