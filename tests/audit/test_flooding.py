"""Strangers cannot fill the log: long client text is cut before it is stored, and unauthenticated
failures are recorded once per burst, not once per request."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from guard.runtime import Runtime
from tests.broker.test_access import audit

MEGABYTE = 1_048_576


def database_bytes(runtime: Runtime) -> int:
    if runtime.db.is_sqlite:
        path = Path(runtime.settings.sqlalchemy_url.removeprefix("sqlite:///"))
        files = [path, path.with_name(path.name + "-wal")]
        return sum(f.stat().st_size for f in files if f.exists())
    with runtime.db.read() as session:
        return int(
            session.execute(
                text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            ).scalar_one()
        )


def test_a_thousand_made_up_refreshes_with_huge_headers_barely_grow_the_database(
    client: TestClient, runtime: Runtime
) -> None:
    huge = {"User-Agent": "x" * MEGABYTE}
    before = database_bytes(runtime)
    statuses = [
        client.post("/auth/refresh", json={"refresh_token": f"rt_made-up-{n}"}, headers=huge).status_code
        for n in range(1000)
    ]
    grown = database_bytes(runtime) - before
    assert grown < MEGABYTE, grown
    assert set(statuses) == {401, 429}
    assert statuses.count(401) <= 10  # then refused unchecked: the address must wait
    (failed,) = audit(runtime, "auth.refresh_failed")  # one entry for the whole burst
    assert failed["burst"] == "started"
    assert failed["user_agent"] == "x" * 512 + f"…[cut {MEGABYTE - 512} characters]"


def test_a_huge_header_on_a_failed_login_is_cut_and_marked(client: TestClient, runtime: Runtime) -> None:
    answer = client.post(
        "/auth/login",
        json={"username": "ghost", "password": "whatever-it-is"},
        headers={"User-Agent": "y" * 100_000},
    )
    assert answer.status_code == 401
    (entry,) = audit(runtime, "auth.login_failed")
    assert entry["user_agent"] == "y" * 512 + f"…[cut {100_000 - 512} characters]"
