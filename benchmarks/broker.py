"""Granted access decisions per second (POST /access-requests) against GET /healthz on the same server.

Each of the concurrent clients is its own person asking for a different document on every request, so
quotas do not run out: every answer should be a grant (checked in the database afterwards). The
documents are public ones, which every person may read without an approval; the request path is the
full one (token check, agreement, quota counter, request row, audit entry, content token, commit).

Three runs against one server, each printing the same figures (granted/s, p50, p99, p99 : p50, granted
decisions : /healthz): plain; every client sending a forged token on one request in ten (those 401s
are not decisions; a client sending only forged tokens would send several times as many requests as the
others, since a refusal is quicker than a decision, and measure how fast refusals are);
and one where another person exports 50 documents of 100 KB and collects the zip, again and again,
throughout the run. With GUARD_BENCH_POSTGRES_URL set (and no --database-url), the same three runs are
repeated on PostgreSQL with 2 workers.

With --hosts 2 (PostgreSQL only): granted decisions/s through two hosts (two `guard serve` processes with
their own GUARD_HOME on one database, half the clients each) against one host in the same run, and the
time the second host takes to pick up the leader's work after the first is killed with SIGKILL.

python -m benchmarks.broker [--seconds 8] [--concurrency 32] [--workers 1] [--database-url URL]
                            [--no-background] [--hosts 1|2]
"""

from __future__ import annotations

import argparse
import base64
import math
import os
import signal
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field

import httpx
from sqlalchemy import create_engine, text

from benchmarks.common import (
    LoadResult,
    drop_postgres_schema,
    get,
    guard_server,
    load,
    machine,
    post_json,
    postgres_database,
)

ADMIN = {"username": "admin", "password": "benchmark-admin-password"}
PASSWORD = "benchmark-person-password"
REASON = "benchmark: preparing the customer review"
EXPORT_DOCUMENTS = 50
EXPORT_DOCUMENT_BYTES = 100_000
EXPORTERS = 10  # each may take every document three times (the quota): 30 exports in all
# Setting people up is not what is measured: cheap password hashing keeps the set-up short.
FAST_HASHING = {"GUARD_AUTH__ARGON2_TIME_COST": "1", "GUARD_AUTH__ARGON2_MEMORY_KIB": "1024"}


def _bearer(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    response = client.post("/auth/login", json={"username": username, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class Fixture:
    readers: list[dict[str, str]]  # one person's bearer header per concurrent client
    documents: list[str]  # small public documents for the decisions
    exporters: list[dict[str, str]]  # people who export `exported`
    exported: list[str]  # the 50 larger documents of every export


def set_up(base: str, *, people: int, documents: int, exporters: int) -> Fixture:
    """People who accepted the agreement, public documents for them to read, and 50 larger ones to export."""
    with httpx.Client(base_url=base, timeout=30) as client:
        admin = _bearer(client, **ADMIN)
        users = [f"reader{i:02d}" for i in range(people)] + [f"exporter{i:02d}" for i in range(exporters)]
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

        def upload(n: int, content: bytes) -> str:
            uploaded = client.post(
                "/documents",
                data={"customer_id": customer.json()["id"], "title": f"Doc {n}", "classification": "public"},
                files={"file": (f"doc{n}.txt", content, "text/plain")},
                headers=author,
            )
            uploaded.raise_for_status()
            return str(uploaded.json()["id"])

        ids = [upload(n, f"document {n}\n".encode()) for n in range(documents)]
        # Text that does not compress away in the zip, so the export really moves about 5 MB.
        large = base64.encodebytes(os.urandom(EXPORT_DOCUMENT_BYTES * 3 // 4))
        exported = [upload(documents + n, large) for n in range(EXPORT_DOCUMENTS)]
        version = client.get("/agreements/current", headers=admin).json()["version"]
        tokens = []
        for username in users:
            auth = _bearer(client, username, PASSWORD)
            client.post("/me/agreements", json={"version": version}, headers=auth).raise_for_status()
            tokens.append(auth)
    return Fixture(tokens[:people], ids, tokens[people:], exported)


def decisions_in(url: str) -> Counter[tuple[str, str]]:
    """Stored decisions by (status, rule)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT status, rule, count(*) FROM access_requests GROUP BY 1, 2"))
        decisions = Counter({(status, rule): int(n) for status, rule, n in rows})
    engine.dispose()
    return decisions


@dataclass
class Exports:
    """Exports requested and collected one after another while the decisions run."""

    delivered: int = 0
    seconds: list[float] = field(default_factory=list)
    bytes: int = 0
    refused: list[str] = field(default_factory=list)


def export_until(base: str, fixture: Fixture, stop: threading.Event, exports: Exports) -> None:
    with httpx.Client(base_url=base, timeout=120) as client:
        for _ in range(3):
            for auth in fixture.exporters:
                if stop.is_set():
                    return
                started = time.perf_counter()
                body = {"document_ids": fixture.exported, "reason": REASON}
                answer = client.post("/exports", json=body, headers=auth)
                if answer.status_code != 201 or answer.json()["status"] != "granted":
                    exports.refused.append(f"{answer.status_code} {answer.text[:120]}")
                    return
                delivered = client.get(answer.json()["content_url"])
                if delivered.status_code != 200:
                    exports.refused.append(f"content {delivered.status_code} {delivered.text[:120]}")
                    return
                exports.seconds.append(time.perf_counter() - started)
                exports.bytes += len(delivered.content)
                exports.delivered += 1


def report(label: str, result: LoadResult, granted: int, health: LoadResult, others: list[str]) -> None:
    rate = granted / result.seconds
    p50, p99 = result.percentile(50), result.percentile(99)
    print(result.line(f"POST /access-requests, {label}"))
    print(
        f"  granted {granted} ({rate:.0f}/s)   p99 : p50 = {p99 / p50:.1f} (target <= 2.5)   "
        f"granted : /healthz = {rate / health.rate:.2f} (target >= 0.35)"
    )
    if others:
        print(f"  not granted: {', '.join(others)}")


def bench(args: argparse.Namespace, *, workers: int, database_url: str | None) -> None:
    database = "PostgreSQL" if database_url else "SQLite (WAL, synchronous=FULL)"
    background = "off" if args.no_background else "on (detection follows the audit log in the same process)"
    print(f"server: guard serve, {workers} worker(s), {database}; background jobs {background}")
    print(f"load: {args.concurrency} concurrent keep-alive clients, {args.seconds:g} s per run")
    # Enough documents that nobody views one three times (the quota) in any run, even at 2000/s.
    per_run = max(20, math.ceil(args.seconds * 2000 / args.concurrency / 2))
    runs = ["plain", "bad tokens", "export"]
    env = {
        **FAST_HASHING,
        # The 50-document export is granted at once, so that its delivery is what the run contends with.
        "GUARD_BROKER__EXPORT_APPROVAL_ABOVE": str(EXPORT_DOCUMENTS),
        **({"GUARD_BACKGROUND_WORKERS": "false"} if args.no_background else {}),
    }
    with guard_server(workers=workers, database_url=database_url, **env) as (base, home):
        fixture = set_up(
            base, people=args.concurrency, documents=per_run * len(runs) + 1, exporters=EXPORTERS
        )
        tokens, ids = fixture.readers, fixture.documents
        forged = [{"Authorization": t["Authorization"][:-6] + "AAAAAA"} for t in tokens]

        def asking(run: int, *, bad_every: int = 0):  # type: ignore[no-untyped-def]
            def ask(worker: int, n: int) -> tuple[str, str, dict[str, str], bytes]:
                body = {"document_id": ids[run * per_run + n % per_run], "action": "view", "reason": REASON}
                bad = bad_every and n % bad_every == bad_every - 1
                return post_json("/access-requests", body, forged[worker] if bad else tokens[worker])

            return ask

        load(base, get("/healthz"), concurrency=4, seconds=1)  # warm up
        warm = {"document_id": ids[-1], "action": "view", "reason": REASON}
        load(base, lambda w, n: post_json("/access-requests", warm, tokens[w]), concurrency=2, seconds=0.2)
        url = database_url or f"sqlite:///{home / 'guard.db'}"
        health = load(base, get("/healthz"), concurrency=args.concurrency, seconds=args.seconds)
        print(health.line("GET /healthz (baseline)"))

        def measured(label: str, ask) -> None:  # type: ignore[no-untyped-def]
            before = decisions_in(url)
            result = load(base, ask, concurrency=args.concurrency, seconds=args.seconds)
            decided = decisions_in(url) - before
            granted = granted_in(decided)
            others = [
                f"{n} {status} ({rule})" for (status, rule), n in decided.items() if status != "granted"
            ]
            report(label, result, granted, health, others)

        measured("plain", asking(0))
        measured("1 request in 10 with a forged token", asking(1, bad_every=10))
        stop, exports = threading.Event(), Exports()
        exporter = threading.Thread(target=export_until, args=(base, fixture, stop, exports))
        exporter.start()
        measured(f"{EXPORT_DOCUMENTS}-document exports delivered meanwhile", asking(2))
        stop.set()
        exporter.join()
        mean = sum(exports.seconds) / len(exports.seconds) * 1000 if exports.seconds else 0.0
        print(
            f"  exports delivered meanwhile: {exports.delivered} of {EXPORT_DOCUMENTS} documents each, "
            f"{exports.bytes / max(1, exports.delivered) / 1e6:.2f} MB each, "
            f"{mean:.0f} ms each (request + delivery)"
        )
        if exports.refused:
            print(f"  an export stopped: {exports.refused[0]}")


def bench_hosts(args: argparse.Namespace, *, postgres: str) -> None:
    """Granted decisions/s through two hosts (each its own GUARD_HOME and one worker) on one PostgreSQL
    database against one of them alone, in the same run; then the time the second host takes to pick up
    the leader's work after the first is killed with SIGKILL."""
    schema, url = postgres_database(postgres)
    per_run = max(20, math.ceil(args.seconds * 2000 / args.concurrency / 2))
    env = {**FAST_HASHING, "GUARD_AUTH__KEYS_RELOAD_SECONDS": "1"}
    print(f"hosts: 2 guard serve processes, 1 worker each, own GUARD_HOME, one PostgreSQL schema ({schema})")
    print(f"load: {args.concurrency} concurrent keep-alive clients, {args.seconds:g} s per run")
    try:
        with guard_server(workers=1, database_url=url, **env) as (a_base, a_home):
            master_key = (a_home / "keys" / "master.key").read_text().strip()
            with guard_server(workers=1, database_url=url, GUARD_MASTER_KEY=master_key, **env) as (
                b_base,
                _b,
            ):
                fixture = set_up(a_base, people=args.concurrency, documents=per_run * 2, exporters=0)
                tokens, ids = fixture.readers, fixture.documents

                def asking(run: int, *, offset: int = 0):  # type: ignore[no-untyped-def]
                    def ask(worker: int, n: int) -> tuple[str, str, dict[str, str], bytes]:
                        body = {
                            "document_id": ids[run * per_run + n % per_run],
                            "action": "view",
                            "reason": REASON,
                        }
                        return post_json("/access-requests", body, tokens[offset + worker])

                    return ask

                for base in (a_base, b_base):
                    load(base, get("/healthz"), concurrency=4, seconds=1)  # warm up
                before = decisions_in(url)
                one = load(a_base, asking(0), concurrency=args.concurrency, seconds=args.seconds)
                one_granted = granted_in(decisions_in(url) - before)
                half = args.concurrency // 2
                results: dict[str, LoadResult] = {}

                def through(name: str, base: str, offset: int) -> None:
                    results[name] = load(
                        base, asking(1, offset=offset), concurrency=half, seconds=args.seconds
                    )

                before = decisions_in(url)
                threads = [
                    threading.Thread(target=through, args=("a", a_base, 0)),
                    threading.Thread(target=through, args=("b", b_base, half)),
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                two_granted = granted_in(decisions_in(url) - before)
                one_rate = one_granted / one.seconds
                two_rate = two_granted / max(r.seconds for r in results.values())
                print(one.line("one host  (A)"), f" granted/s {one_rate:.0f}")
                print(results["a"].line("two hosts (A half)"))
                print(results["b"].line("two hosts (B half)"))
                print(f"  granted decisions/s: two hosts {two_rate:.0f}, one host {one_rate:.0f}")
                print(
                    f"  ratio two hosts : one host = {two_rate / one_rate:.2f} (both hosts share these cores)"
                )
                takeover = leader_takeover(a_base, url=url, schema=schema)
                print(
                    f"  leader work taken over by host B {takeover:.2f} s after host A was killed (SIGKILL)"
                )
    finally:
        drop_postgres_schema(postgres, schema)


def granted_in(decided: Counter[tuple[str, str]]) -> int:
    return sum(n for (status, _rule), n in decided.items() if status == "granted")


def leader_takeover(leader_base: str, *, url: str, schema: str) -> float:
    """Kill the leading host and time until another holds the leader lock (guard.leader)."""
    key = zlib.crc32(f"guard-leader:{schema}".encode())
    engine = create_engine(url)
    held = text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :k")

    def holder() -> int | None:
        with engine.connect() as connection:
            found = connection.execute(held, {"k": key}).scalar()
        return int(found) if found is not None else None

    first = holder()
    leader_pid = int(httpx.get(f"{leader_base}/healthz", timeout=5).json()["worker"])
    os.kill(leader_pid, signal.SIGKILL)
    killed = time.perf_counter()
    while True:
        now = holder()
        if now is not None and now != first:
            elapsed = time.perf_counter() - killed
            engine.dispose()
            return elapsed
        if time.perf_counter() - killed > 120:
            engine.dispose()
            raise RuntimeError("no host took over the leader's work within 120 s")
        time.sleep(0.02)


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
    parser.add_argument(
        "--hosts",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: two hosts on one PostgreSQL (--database-url or GUARD_BENCH_POSTGRES_URL) against one",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if args.hosts == 2:
        postgres = args.database_url or os.environ.get("GUARD_BENCH_POSTGRES_URL")
        if not postgres:
            parser.error("--hosts 2 needs PostgreSQL: --database-url or GUARD_BENCH_POSTGRES_URL")
        bench_hosts(args, postgres=postgres)
        return
    bench(args, workers=args.workers, database_url=args.database_url)
    postgres = os.environ.get("GUARD_BENCH_POSTGRES_URL")
    if postgres and not args.database_url:
        print()
        schema, url = postgres_database(postgres)
        try:
            bench(args, workers=2, database_url=url)
        finally:
            drop_postgres_schema(postgres, schema)


if __name__ == "__main__":
    main()
