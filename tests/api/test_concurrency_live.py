"""Many simultaneous writing requests against one real server: none stalls, every change and its audit
entry land (more requests than the server has threads, so a lock held across thread hops would hang)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import func, select

from guard.audit.models import AuditEntry
from guard.people.models import User
from tests.support.live import live_server
from tests.support.people import PASSWORD, People

REQUESTS = 90


def test_ninety_simultaneous_writes_all_complete_and_are_audited(
    db_url: str, guard_home: Path, people: People
) -> None:
    admin_name = people.admin.username
    with live_server(guard_home, db_url, workers=1) as base:
        token = httpx.post(f"{base}/auth/login", json={"username": admin_name, "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}

        def create(n: int) -> int:
            # Machine accounts: no password to hash, so the writes themselves are what is raced.
            body = {
                "username": f"p{n:03d}",
                "display_name": f"P {n}",
                "email": f"p{n}@example.com",
                "roles": ["ingest"],
            }
            return httpx.post(f"{base}/users", json=body, headers=auth, timeout=60).status_code

        with ThreadPoolExecutor(REQUESTS) as pool:
            statuses = list(pool.map(create, range(REQUESTS)))
    assert statuses == [201] * REQUESTS
    with people.runtime.db.read() as session:
        created = session.scalar(select(func.count()).select_from(User).where(User.username.like("p%")))
        audited = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "user.create")
        )
    assert created == REQUESTS
    assert audited == REQUESTS + 1  # and the admin's own creation
