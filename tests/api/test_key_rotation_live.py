"""A JWT key rotation and the retirement of a compromised key reach a running server without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt

from guard.runtime import Runtime
from tests.broker.test_access import audit
from tests.support.live import live_server, run_guard
from tests.support.people import PASSWORD, People


def wait_for(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the server did not pick up the key change in time")
        time.sleep(0.1)


def test_rotate_then_retire_without_a_restart(
    runtime: Runtime, people: People, guard_home: Path, db_url: str
) -> None:
    people.add("ann", login=False)
    with (
        live_server(guard_home, db_url, GUARD_AUTH__KEYS_RELOAD_SECONDS="0.2") as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):

        def login() -> str:
            answer = http.post("/auth/login", json={"username": "ann", "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            return str(answer.json()["access_token"])

        def works(token: str) -> bool:
            return http.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

        old_token = login()
        old_kid = jwt.get_unverified_header(old_token)["kid"]
        rotated = run_guard(guard_home, db_url, "keys", "rotate", "jwt")
        assert rotated.returncode == 0, rotated.stderr
        wait_for(lambda: jwt.get_unverified_header(login())["kid"] != old_kid)
        new_token = login()
        assert works(old_token)  # rotation alone keeps older tokens valid until they expire

        active = run_guard(guard_home, db_url, "keys", "retire", jwt.get_unverified_header(new_token)["kid"])
        assert active.returncode == 2
        assert "active signing key" in active.stderr
        retired = run_guard(guard_home, db_url, "keys", "retire", old_kid)
        assert retired.returncode == 0, retired.stderr
        wait_for(lambda: not works(old_token))
        refused = http.get("/me", headers={"Authorization": f"Bearer {old_token}"})
        assert refused.status_code == 401
        assert works(new_token)
    assert [e["kid"] for e in audit(runtime, "keys.retire")] == [old_kid]
