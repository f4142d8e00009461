"""Granted access decisions per second (POST /access-requests) against GET /healthz on the same server.

Each of the concurrent clients is its own person asking for a different document on every request, so
quotas do not run out: every answer should be a grant (checked in the database afterwards). The
documents are public ones, which every person may read without an approval; the request path is the
full one (token check, agreement, quota counter, request row, audit entry, content token, commit).

python -m benchmarks.broker [--seconds 8] [--concurrency 32] [--workers 1] [--database-url URL]
                            [--no-background]
"""

from __future__ import annotations

import argparse
import math
from collections import Counter

import httpx
from sqlalchemy import create_engine, text

from benchmarks.common import get, guard_server, load, machine, post_json

ADMIN = {"username": "admin", "password": "benchmark-admin-password"}
PASSWORD = "benchmark-person-password"
REASON = "benchmark: preparing the customer review"
# Setting people up is not what is measured: cheap password hashing keeps the set-up short.
FAST_HASHING = {"GUARD_AUTH__ARGON2_TIME_COST": "1", "GUARD_AUTH__ARGON2_MEMORY_KIB": "1024"}


def _bearer(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    response = client.post("/auth/login", json={"username": username, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def set_up(base: str, *, people: int, documents: int) -> tuple[list[dict[str, str]], list[str]]:
    """People who accepted the agreement, and public documents for them to read."""
    with httpx.Client(base_url=base, timeout=30) as client:
        admin = _bearer(client, **ADMIN)
        users = [f"reader{i:02d}" for i in range(people)]
        for username in [*users, "author"]:
            body = {
                "username": username,
                "display_name": username,
                "email": f"{username}@example.com",
                "roles": ["author"] if username == "author" else ["staff"],
                "password": PASSWORD,
            }
            client.post("/users", json=body, headers=admin).raise_for_status()
        customer = client.post(
            "/customers", json={"external_id": "BENCH-1", "name": "Bench", "owner": "author"}, headers=admin
        )
        customer.raise_for_status()
        author = _bearer(client, "author", PASSWORD)
        ids = []
        for n in range(documents):
            uploaded = client.post(
                "/documents",
                data={"customer_id": customer.json()["id"], "title": f"Doc {n}", "classification": "public"},
                files={"file": (f"doc{n}.txt", f"document {n}\n".encode(), "text/plain")},
                headers=author,
            )
            uploaded.raise_for_status()
            ids.append(uploaded.json()["id"])
        version = client.get("/agreements/current", headers=admin).json()["version"]
        tokens = []
        for username in users:
            auth = _bearer(client, username, PASSWORD)
            client.post("/me/agreements", json={"version": version}, headers=auth).raise_for_status()
            tokens.append(auth)
    return tokens, ids


def decisions_in(url: str) -> Counter[tuple[str, str]]:
    """Stored decisions by (status, rule)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT status, rule, count(*) FROM access_requests GROUP BY 1, 2"))
        decisions = Counter({(status, rule): int(n) for status, rule, n in rows})
    engine.dispose()
    return decisions


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--no-background",
        action="store_true",
        help="switch off the background jobs (detection consuming the audit log, sweeps) in the server",
    )
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL (default: SQLite in a temp home)"
    )
    args = parser.parse_args()
    database = "PostgreSQL" if args.database_url else "SQLite (WAL, synchronous=FULL)"
    print(f"machine: {machine()}")
    background = "off" if args.no_background else "on (detection follows the audit log in the same process)"
    print(f"server: guard serve, {args.workers} worker(s), {database}; background jobs {background}")
    print(f"load: {args.concurrency} concurrent keep-alive clients, {args.seconds:g} s per endpoint")
    # Enough documents that nobody views one three times (the quota), warm-up included, even at 2000/s.
    documents = max(20, math.ceil(args.seconds * 2000 / args.concurrency / 2))
    env = {**FAST_HASHING, **({"GUARD_BACKGROUND_WORKERS": "false"} if args.no_background else {})}
    with guard_server(workers=args.workers, database_url=args.database_url, **env) as (base, home):
        tokens, ids = set_up(base, people=args.concurrency, documents=documents)

        def ask(worker: int, n: int) -> tuple[str, str, dict[str, str], bytes]:
            body = {"document_id": ids[n % len(ids)], "action": "view", "reason": REASON}
            return post_json("/access-requests", body, tokens[worker])

        load(base, get("/healthz"), concurrency=4, seconds=1)  # warm up
        load(base, ask, concurrency=4, seconds=0.5)
        url = args.database_url or f"sqlite:///{home / 'guard.db'}"
        before = decisions_in(url)
        health = load(base, get("/healthz"), concurrency=args.concurrency, seconds=args.seconds)
        decisions = load(base, ask, concurrency=args.concurrency, seconds=args.seconds)
        decided = decisions_in(url) - before
    granted = sum(n for (status, _), n in decided.items() if status == "granted")
    print(health.line("GET /healthz (baseline)"))
    print(decisions.line("POST /access-requests"))
    rate = granted / decisions.seconds
    print(f"granted decisions: {granted} of {decisions.requests} answers, {rate:.0f}/s")
    others = [f"{n} {status} ({rule})" for (status, rule), n in decided.items() if status != "granted"]
    if others:
        print(f"  not granted: {', '.join(others)}")
    print(f"ratio granted decisions : /healthz = {rate / health.rate:.2f}  (target >= 0.33 and >= 500/s)")


if __name__ == "__main__":
    main()
