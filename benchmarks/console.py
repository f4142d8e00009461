"""Console pages at scale: server time of each main page against the same server's /healthz.

The data: 1,000,000 audit entries (a valid chain, bulk-loaded as `benchmarks.audit` does), 1,000 people,
200 customers and 10,000 documents (rows written through the ORM; their blobs are not needed to render a
page), one leaver with a departure, a handover and a month of requests. Then a real `guard serve` (one
worker, SQLite) and a security analyst signed in through the console's own form. Each page is fetched
`--rounds` times over one keep-alive connection; the figure is the wall time seen by the client on the
same machine, an upper bound on the server's own time.

python -m benchmarks.console [--entries 1000000] [--people 1000] [--documents 10000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine

from benchmarks.audit import generate_chain
from benchmarks.common import GUARD, free_port, machine
from guard.customers.service import create_customer
from guard.db import transaction
from guard.documents.models import Document
from guard.hr.events import EventInput, apply_event
from guard.migrate import upgrade
from guard.people.service import create_user
from guard.runtime import build_runtime
from guard.settings import load_settings

PASSWORD = "benchmark-analyst-password"
LIMIT_MS = 150.0
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def seed(home: Path, url: str, *, entries: int, people: int, documents: int, env: dict[str, str]) -> None:
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    generate_chain(url, entries)
    subprocess.run([GUARD, "init"], env=env, check=True, capture_output=True)
    # Cheap hashing for the seeded people (a hash records its own parameters, so the server verifies it).
    fast = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}
    runtime = build_runtime(load_settings(home=home, database_url=url, auth=fast))
    now = datetime.now(UTC)
    with transaction(runtime.db.write) as session:
        for number in range(people):
            create_user(
                session=session,
                actor="bench",
                username=f"user{number}",
                display_name=f"User {number}",
                email=f"user{number}@example.com",
                roles=["staff", "author"] if number % 50 == 0 else ["staff"],
                department=f"Sales {number % 12}",
                password=f"{PASSWORD}-{number}",
                now=now,
                passwords=runtime.passwords,
            )
        create_user(
            session=session,
            actor="bench",
            username="analyst",
            display_name="Analyst",
            email="analyst@example.com",
            roles=["security", "hr"],
            password=PASSWORD,
            now=now,
            passwords=runtime.passwords,
            on_host=True,
        )
    with transaction(runtime.db.write) as session:
        customers = [
            create_customer(
                session=session,
                actor="bench",
                external_id=f"CRM-{number}",
                name=f"Customer {number}",
                owner=f"user{number % people}",
                now=now,
            )
            for number in range(200)
        ]
        session.flush()
        owners = {c.owner_id for c in customers}
        author = next(iter(owners))
        for number in range(documents):
            session.add(
                Document(
                    customer_id=customers[number % len(customers)].id,
                    title=f"Account plan {number}",
                    classification="internal",
                    author_id=author,
                    custodian_id=author,
                    filename=f"plan-{number}.txt",
                    content_type="text/plain",
                    size=100,
                    sha256="0" * 64,
                    created_at=now - timedelta(minutes=documents - number),
                )
            )
    with transaction(runtime.db.write) as session:
        apply_event(
            session=session,
            actor="bench",
            data=EventInput(
                employee="user7",
                type="resignation",
                notice_date=now.date(),
                last_working_date=(now + timedelta(days=20)).date(),
                successor="user8",
            ),
            source="api",
            hr=runtime.settings.hr,
            policy=runtime.policies.current,
            now=now,
        )
    runtime.db.dispose()


def timed(client: httpx.Client, path: str, rounds: int) -> list[float]:
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = client.get(path)
        spent.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[-900:])
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="guard-bench-console-") as tmp:
        home = Path(tmp)
        url = f"sqlite:///{home / 'guard.db'}"
        env = {
            **os.environ,
            "GUARD_HOME": str(home),
            "GUARD_DATABASE_URL": url,
            "GUARD_ADMIN_PASSWORD": "benchmark-admin-password",
            "GUARD_LOG_LEVEL": "WARNING",
        }
        started = time.perf_counter()
        seed(home, url, entries=args.entries, people=args.people, documents=args.documents, env=env)
        print(
            f"data: {args.entries:,} audit entries, {args.people:,} people, 200 customers, "
            f"{args.documents:,} documents (seeded in {time.perf_counter() - started:.0f} s)"
        )
        port = free_port()
        server = subprocess.Popen(
            [GUARD, "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        if client.get("/readyz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                form = client.get("/console/sign-in")
                token = CSRF.search(form.text)
                assert token
                signed = client.post(
                    "/console/sign-in",
                    data={"csrf": token.group(1), "username": "analyst", "password": PASSWORD},
                )
                assert signed.status_code == 303, signed.text[:300]
                last = client.get("/console/audit").text
                seq = re.search(r'href="/console/audit/(\d+)"', last)
                pages = [
                    "/console",
                    "/console/documents",
                    "/console/documents?title=plan+99",
                    "/console/requests",
                    "/console/alerts",
                    "/console/audit",
                    "/console/audit?actor=user7",
                    f"/console/audit/{seq.group(1) if seq else 1}",
                    "/console/leavers",
                    "/console/leavers/user7",
                    "/console/people",
                    "/console/people/user7",
                ]
                warm = time.perf_counter()
                while client.get("/console").status_code != 200 and time.perf_counter() - warm < 600:
                    time.sleep(0.5)
                print(f"first page served {time.perf_counter() - warm:.1f} s after sign-in")
                baseline = statistics.median(timed(client, "/healthz", args.rounds))
                print(f"{'page':<38} {'p50 ms':>8} {'p95 ms':>8} {'x /healthz':>11}  under {LIMIT_MS:.0f} ms")
                print(f"{'/healthz (baseline)':<38} {baseline:>8.2f}")
                for path in pages:
                    spent = sorted(timed(client, path, args.rounds))
                    p50 = statistics.median(spent)
                    p95 = spent[min(len(spent) - 1, int(0.95 * len(spent)))]
                    verdict = "yes" if p95 < LIMIT_MS else "NO"
                    print(f"{path:<38} {p50:>8.2f} {p95:>8.2f} {p50 / baseline:>11.1f}  {verdict}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
