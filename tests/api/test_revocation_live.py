"""Revocation across processes: the real server with two workers on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.live import live_server, worker_pids
from tests.support.people import PASSWORD, People


def login(base: str, username: str) -> dict[str, str]:
    response = httpx.post(f"{base}/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_suspension_refuses_the_very_next_request_in_every_worker(
    postgres_url: str, guard_home: Path, pg_people: People
) -> None:
    pg_people.add("ann", login=False)
    with live_server(guard_home, postgres_url, workers=2) as base:
        assert len(worker_pids(base)) == 2
        admin, ann = (login(base, name) for name in (pg_people.admin.username, "ann"))
        # Fresh connections are spread over both workers; the token works in each.
        assert {httpx.get(f"{base}/me", headers=ann).status_code for _ in range(20)} == {200}
        ann_id = httpx.get(f"{base}/me", headers=ann).json()["id"]
        suspend = httpx.patch(f"{base}/users/{ann_id}", json={"status": "suspended"}, headers=admin)
        assert suspend.status_code == 200
        assert {httpx.get(f"{base}/me", headers=ann).status_code for _ in range(40)} == {401}
