"""GET /me (JWT verify + status and token_version lookup) against GET /healthz on the same server.

python -m benchmarks.auth [--seconds 8] [--concurrency 16]
"""

from __future__ import annotations

import argparse

import httpx

from benchmarks.common import get, guard_server, load, machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print("server: guard serve, 1 worker, SQLite (WAL, synchronous=FULL)")
    with guard_server() as (base, _home):
        login = httpx.post(
            f"{base}/auth/login", json={"username": "admin", "password": "benchmark-admin-password"}
        ).json()
        auth = {"Authorization": f"Bearer {login['access_token']}"}
        load(base, get("/healthz"), concurrency=4, seconds=1)  # warm up
        health = load(base, get("/healthz"), concurrency=args.concurrency, seconds=args.seconds)
        me = load(base, get("/me", auth), concurrency=args.concurrency, seconds=args.seconds)
    print(health.line("GET /healthz (baseline)"))
    print(me.line("GET /me (authenticated)"))
    print(f"ratio /me : /healthz = {me.rate / health.rate:.2f}")


if __name__ == "__main__":
    main()
