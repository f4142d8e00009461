"""A termination against the real server with two worker processes on PostgreSQL."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.support.live import live_server, worker_pids
from tests.support.people import PASSWORD, People


def login(base: str, username: str) -> dict[str, str]:
    response = httpx.post(f"{base}/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_termination_refuses_the_next_request_in_every_worker(
    postgres_url: str, guard_home: Path, pg_people: People
) -> None:
    pg_people.add("ann", login=False)
    pg_people.add("bea", login=False)
    pg_people.add("helen", "hr", login=False)
    fast_inbox = {"GUARD_HR__INBOX_POLL_SECONDS": "0.1", "GUARD_HR__INBOX_SETTLE_SECONDS": "0.2"}
    with live_server(guard_home, postgres_url, workers=2, **fast_inbox) as base:
        assert len(worker_pids(base)) == 2
        helen, ann = login(base, "helen"), login(base, "ann")
        # Fresh connections are spread over both workers; the token works in each.
        assert {httpx.get(f"{base}/me", headers=ann).status_code for _ in range(20)} == {200}
        sent = httpx.post(f"{base}/hr/events", json={"employee": "ann", "type": "termination"}, headers=helen)
        assert sent.status_code == 202, sent.text
        assert sent.json()["status"] == "departed"
        answers = [httpx.get(f"{base}/me", headers=ann) for _ in range(40)]
        assert {a.status_code for a in answers} == {401}
        assert (
            httpx.post(f"{base}/auth/login", json={"username": "ann", "password": PASSWORD}).status_code
            == 401
        )
        [departure] = httpx.get(f"{base}/hr/departures", headers=helen).json()
        assert (departure["user"], departure["state"]) == ("ann", "departed")

        # The inbox is handled by exactly one of the two workers: a dropped file applies once.
        inbox = guard_home / "hr-inbox"
        staging = guard_home / "bea.csv"
        staging.write_text(
            "EmailAddress,ResignationDate,LastWorkingDate\nbea@example.com,2026-03-02,2099-03-20\n"
        )
        staging.rename(inbox / "bea.csv")
        deadline = time.monotonic() + 30
        while not list((inbox / "processed").glob("*.result.json")):
            assert time.monotonic() < deadline, "the inbox file was not processed"
            time.sleep(0.05)
        [result] = [json.loads(p.read_text()) for p in (inbox / "processed").glob("*.result.json")]
        assert [(r["employee"], r["duplicate"]) for r in result["rows"]] == [("bea", False)]
        watchlist = httpx.get(f"{base}/hr/watchlist", headers=helen).json()
        assert [e["user"] for e in watchlist] == ["bea"]
