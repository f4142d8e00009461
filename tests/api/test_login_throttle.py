"""Failed logins are throttled per account and per client address: growing waits, then a lockout, 429
with Retry-After, one audit entry per burst and per lockout; counters hold across worker processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from guard.auth.models import LoginThrottle
from guard.clock import FixedClock
from guard.runtime import Runtime
from tests.broker.test_access import audit
from tests.support.live import live_server, worker_pids
from tests.support.people import PASSWORD, People

# The shipped defaults: 5 free failures, then waits of 1, 2, 4, 8 s; the 10th failure locks for 15 min.
FREE, LOCKOUT = 5, 10


def attempt(client: TestClient, username: str, password: str = "not-the-password") -> httpx.Response:
    return client.post("/auth/login", json={"username": username, "password": password})


def test_guessing_one_account_meets_growing_waits_then_a_lockout(
    client: TestClient, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    people.add("ann", login=False)
    for _ in range(FREE):
        assert attempt(client, "ann").status_code == 401
    assert attempt(client, "ann").status_code == 401  # the 6th failure: the next try waits 1 s
    waits = []
    for _ in range(LOCKOUT - FREE - 1):
        early = attempt(client, "ann", PASSWORD)  # even the right password is not checked while waiting
        assert early.status_code == 429
        waits.append(int(early.headers["Retry-After"]))
        clock.advance(timedelta(seconds=waits[-1]))
        assert attempt(client, "ann").status_code == 401
    assert waits == [1, 2, 4, 8]
    locked = attempt(client, "ann", PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) == 15 * 60
    assert "try again" in locked.json()["detail"]
    # One entry for the burst, one for each lockout (the account's and this address's), none per guess.
    assert len(audit(runtime, "auth.login_failed")) == 1
    assert {e["target"] for e in audit(runtime, "auth.lockout")} == {"user:ann", "address:testclient"}
    clock.advance(timedelta(minutes=15))
    ok = attempt(client, "ann", PASSWORD)
    assert ok.status_code == 200
    assert audit(runtime, "auth.login")[-1]["actor"] == "ann"


def test_a_success_clears_the_accounts_count_but_not_the_addresss(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    people.add("ann", login=False)
    for _ in range(FREE):
        assert attempt(client, "ann").status_code == 401
    assert attempt(client, "ann", PASSWORD).status_code == 200
    assert audit(runtime, "auth.login")[-1]["failed_before"] == FREE
    with runtime.db.read() as session:
        counts = dict(session.execute(select(LoginThrottle.key, LoginThrottle.failures)).all())
    assert counts["user:ann"] == 0
    assert counts["address:testclient"] == FREE


def test_spraying_many_accounts_from_one_address_is_stopped_by_the_address(
    client: TestClient, people: People, runtime: Runtime, clock: FixedClock
) -> None:
    for n in range(LOCKOUT):
        clock.advance(timedelta(seconds=10))  # past every wait: only the count matters here
        assert attempt(client, f"user{n}").status_code == 401
    blocked = attempt(client, "someone-else")
    assert blocked.status_code == 429
    assert [e["target"] for e in audit(runtime, "auth.lockout")] == ["address:testclient"]


def test_guesses_raced_across_two_workers_are_counted_exactly(
    postgres_url: str, guard_home: Path, pg_people: People
) -> None:
    pg_people.add("ann", login=False)
    with live_server(guard_home, postgres_url, workers=2) as base:
        assert len(worker_pids(base)) == 2

        def guess(_: int) -> int:
            body = {"username": "ann", "password": "not-the-password"}
            return httpx.post(f"{base}/auth/login", json=body, timeout=60).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(guess, range(40)))
    # Only the failures the policy allows were ever checked; every other guess was refused unchecked.
    checked = statuses.count(401)
    assert FREE <= checked <= LOCKOUT
    assert statuses.count(429) == 40 - checked
    with pg_people.runtime.db.read() as session:
        row = session.get(LoginThrottle, "user:ann")
    assert row is not None
    assert row.failures == checked
