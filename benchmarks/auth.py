"""Authentication per request, and logins, against GET /healthz on the same server.

- GET /me with a bearer token: JWT verify (memoised) + status, token version, revocation and ended-session
  lookup in one statement.
- GET /me with an API key: the key's hash lookup (its last use is written at most once a minute).
- POST /auth/login with the right password, throttling on: the throttle rows are locked and cleared in the
  login's transaction; Argon2id at the shipped cost dominates.
- POST /auth/login for a locked-out account: refused with 429 before any password check.

python -m benchmarks.auth [--seconds 8] [--concurrency 16]
"""

from __future__ import annotations

import argparse

import httpx

from benchmarks.common import get, guard_server, load, machine, post_json

ADMIN = {"username": "admin", "password": "benchmark-admin-password"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print("server: guard serve, 1 worker, SQLite (WAL, synchronous=FULL), Argon2id at the shipped cost")
    with guard_server() as (base, _home), httpx.Client(base_url=base, timeout=60) as client:
        login = client.post("/auth/login", json=ADMIN).json()
        bearer = {"Authorization": f"Bearer {login['access_token']}"}
        body = {"username": "crm-bot", "display_name": "CRM", "email": "crm@example.com", "roles": ["ingest"]}
        robot = client.post("/users", json=body, headers=bearer).json()
        key = client.post(f"/users/{robot['id']}/api-keys", json={"name": "bench"}, headers=bearer).json()
        api_key = {"Authorization": f"ApiKey {key['key']}"}
        for _ in range(12):  # lock out a second account, from this address too
            client.post("/auth/login", json={"username": "nobody", "password": "not-the-password"})

        load(base, get("/healthz"), concurrency=4, seconds=1)  # warm up
        health = load(base, get("/healthz"), concurrency=args.concurrency, seconds=args.seconds)
        me = load(base, get("/me", bearer), concurrency=args.concurrency, seconds=args.seconds)
        by_key = load(base, get("/me", api_key), concurrency=args.concurrency, seconds=args.seconds)
        locked_body = {"username": "nobody", "password": "not-the-password"}
        locked = load(
            base,
            lambda _w, _n: post_json("/auth/login", locked_body, {}),
            concurrency=4,
            seconds=args.seconds / 2,
        )
    # Logins last: the locked address above does not matter to them, a separate server does.
    with guard_server() as (base, _home):
        logins = load(
            base, lambda _w, _n: post_json("/auth/login", ADMIN, {}), concurrency=4, seconds=args.seconds / 2
        )
    print(health.line("GET /healthz (baseline)"))
    print(me.line("GET /me (bearer token)"))
    print(by_key.line("GET /me (API key)"))
    print(logins.line("POST /auth/login (right password)"))
    print(locked.line("POST /auth/login (locked out: 429)"))
    for label, result in (
        ("bearer /me", me),
        ("API key /me", by_key),
        ("login", logins),
        ("locked-out login", locked),
    ):
        print(f"ratio {label} : /healthz = {result.rate / health.rate:.3f}")


if __name__ == "__main__":
    main()
