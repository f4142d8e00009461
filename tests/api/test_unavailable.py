"""A database that cannot be written (here: SQLite's write lock held elsewhere past the busy timeout) is a
503 that changes nothing, on the plain request path and on the broker's group-committed path alike."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from guard.clock import FixedClock
from guard.runtime import build_runtime
from tests.broker.helpers import Broker
from tests.conftest import START
from tests.support import databases
from tests.support.people import People
from tests.support.settings import guard_settings


@dataclass
class Guard:
    client: TestClient
    people: People
    database: str

    def write_lock(self) -> sqlite3.Connection:
        """Another process's writer: holds SQLite's write lock until rolled back."""
        holder = sqlite3.connect(self.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        return holder


@pytest.fixture
def guard(guard_home: Path, tmp_path: Path, sqlite_template: Path) -> Iterator[Guard]:
    url = databases.sqlite_copy(sqlite_template, tmp_path)
    settings = guard_settings(
        guard_home,
        url,
        sqlite={"busy_timeout_ms": 200},
    )
    runtime = build_runtime(settings, clock=FixedClock(START))
    with TestClient(create_app(runtime=runtime)) as client:
        yield Guard(client, People(client, runtime), url.removeprefix("sqlite:///"))
    runtime.close()


def test_a_locked_database_is_503_and_nothing_is_written(guard: Guard) -> None:
    admin = guard.people.admin
    holder = guard.write_lock()
    body = {"username": "blocked", "display_name": "B", "email": "b@example.com", "roles": ["staff"]}
    response = guard.client.post("/users", json=body, headers=admin.auth)
    holder.rollback()
    assert response.status_code == 503, response.text
    assert "not available" in response.json()["detail"]
    assert guard.client.get("/users/blocked", headers=admin.auth).status_code == 404


def test_a_locked_database_refuses_access_requests_with_503(guard: Guard) -> None:
    broker = Broker(guard.client, guard.people)
    reader = broker.person("reader", "staff")
    document = broker.upload(broker.customer(reader), classification="public")
    holder = guard.write_lock()
    response = broker.ask_response(reader, document)
    holder.rollback()
    assert response.status_code == 503, response.text
    assert guard.client.get("/access-requests?mine=true", headers=reader.auth).json() == []
