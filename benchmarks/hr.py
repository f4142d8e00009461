"""HR lifecycle: how fast a termination bites, and how fast an exposure report is.

1. Termination to first refusal: `guard serve --workers 2` on PostgreSQL (a fresh schema). Each trial
   terminates a different logged-in person (POST /hr/events) and then sends that person's GET /me on a
   fresh connection (so it lands on either worker) until it is refused. Reported: the time from sending
   the termination to the first refusal, and how many requests it took (1 = the very next request).
   Baseline, same run: GET /me of a person still employed, on a fresh connection.
2. Exposure report for a person with 10,000 audit entries (views, downloads, exports, decisions, in the
   look-back window before notice), on PostgreSQL (the same schema) and SQLite. Baseline, same run:
   just fetching that person's entries (the report's own query, without parsing or counting).

3. An HR file of 500 resignations (SQLite), applied as the inbox and `guard hr import` apply it: one
   transaction, one look-back queued per person (the engine runs them afterwards). Reported: the time the
   file's transaction takes. Baseline, same run: importing the same file again, every row a duplicate
   (parsing, finding each person, idempotency lookups; nothing applied).

python -m benchmarks.hr [--trials 30] [--entries 10000] [--repeat 5] [--resignations 500] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from sqlalchemy import create_engine, select, text

from benchmarks.common import guard_server, machine

if TYPE_CHECKING:
    from guard.runtime import Runtime

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ADMIN = {"username": "admin", "password": "benchmark-admin-password"}
PASSWORD = "benchmark-person-password"
# Setting people up is not what is measured: cheap password hashing keeps the set-up short.
FAST_HASHING = {"GUARD_AUTH__ARGON2_TIME_COST": "1", "GUARD_AUTH__ARGON2_MEMORY_KIB": "1024"}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{label:<52} median {ms(statistics.median(values))}   p95 {ms(p95)}   n={len(values)}"


# -- 1. termination to first refusal ------------------------------------------------------------------


def _login(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    response = client.post("/auth/login", json={"username": username, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _add(client: httpx.Client, admin: dict[str, str], username: str, role: str = "staff") -> None:
    body = {
        "username": username,
        "display_name": username,
        "email": f"{username}@example.com",
        "roles": [role],
        "password": PASSWORD,
    }
    client.post("/users", json=body, headers=admin).raise_for_status()


def termination_trials(base: str, trials: int) -> tuple[list[float], list[int], list[float]]:
    with httpx.Client(base_url=base, timeout=30) as client:
        admin = _login(client, **ADMIN)
        _add(client, admin, "helen", "hr")
        _add(client, admin, "stayer")
        for n in range(trials):
            _add(client, admin, f"leaver{n:03d}")
        hr = _login(client, "helen", PASSWORD)
        stayer = _login(client, "stayer", PASSWORD)
        leavers = [_login(client, f"leaver{n:03d}", PASSWORD) for n in range(trials)]
    to_refusal: list[float] = []
    attempts: list[int] = []
    baseline: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as hr_client:
        hr_client.get("/healthz")  # the HR system keeps its connection open, as a connector would
        for n, token in enumerate(leavers):
            assert httpx.get(f"{base}/me", headers=token).status_code == 200
            started = time.perf_counter()
            sent = hr_client.post(
                "/hr/events", json={"employee": f"leaver{n:03d}", "type": "termination"}, headers=hr
            )
            assert sent.status_code == 202, sent.text
            tries = 0
            while True:
                tries += 1
                if httpx.get(f"{base}/me", headers=token).status_code == 401:  # fresh connection
                    break
            to_refusal.append(time.perf_counter() - started)
            attempts.append(tries)
            started = time.perf_counter()
            assert httpx.get(f"{base}/me", headers=stayer).status_code == 200
            baseline.append(time.perf_counter() - started)
    return to_refusal, attempts, baseline


def fresh_schema(url: str) -> tuple[str, str]:
    schema = f"bench_hr_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return schema, f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


def drop_schema(url: str, schema: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


# -- 2. exposure report ---------------------------------------------------------------------------------


def bench_runtime(home: Path, database_url: str | None) -> Runtime:
    """A migrated runtime with cheap password hashing (setting people up is not what is measured)."""
    from guard.db import transaction
    from guard.keys.setup import provision_keys
    from guard.migrate import upgrade
    from guard.runtime import build_runtime, master_key_override, open_db
    from guard.settings import load_settings

    settings = load_settings(
        home=home,
        database_url=database_url,
        log_json=False,
        background_workers=False,
        auth={"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1},
    )
    db = open_db(settings)  # what `guard init` does
    upgrade(db.engine)
    with transaction(db.write) as session:
        provision_keys(
            session=session,
            keys_dir=settings.keys_path,
            override=master_key_override(settings),
            now=datetime.now(UTC),
        )
    db.dispose()
    return build_runtime(settings)


def seed_person(settings_home: Path, database_url: str | None, entries: int) -> Runtime:
    """A person on notice with `entries` audit entries (a mix of deliveries and decisions) in the window."""
    from guard.audit.log import record
    from guard.customers.models import Customer
    from guard.db import new_id, transaction
    from guard.documents.models import Document
    from guard.hr.events import EventInput, apply_event
    from guard.people.service import create_user

    runtime = bench_runtime(settings_home, database_url)
    settings = runtime.settings
    now = datetime.now(UTC)
    with transaction(runtime.db.write) as session:
        person = create_user(
            session=session,
            actor="bench",
            username="rep",
            display_name="Rep",
            email="rep@example.com",
            roles=["staff"],
            passwords=runtime.passwords,
            password=PASSWORD,
            now=now,
        )
        customers = [
            Customer(
                external_id=f"B-{n}", name=f"Customer {n}", owner_id=person.id, created_at=now, updated_at=now
            )
            for n in range(50)
        ]
        session.add_all(customers)
        session.flush()
        documents = [
            Document(
                id=new_id(),
                customer_id=customers[n % 50].id,
                title=f"Document {n}",
                classification="internal",
                author_id=person.id,
                custodian_id=person.id,
                filename=f"d{n}.txt",
                content_type="text/plain",
                size=10,
                sha256="0" * 64,
                honeytoken=False,
                created_at=now,
            )
            for n in range(400)
        ]
        session.add_all(documents)
    start = now - timedelta(days=60)
    batch = 2000
    for first in range(0, entries, batch):
        with transaction(runtime.db.write) as session:
            for n in range(first, min(entries, first + batch)):
                doc = documents[n % len(documents)]
                ts = start + timedelta(seconds=n * 59 * 86400 / entries)  # spread over 59 days
                payload: dict[str, Any]
                if n % 2:
                    action, payload = (
                        f"access.{('view', 'download')[n % 3 == 0]}",
                        {
                            "request_id": f"r{n}",
                            "decision": "granted",
                            "document_id": doc.id,
                            "customer_id": doc.customer_id,
                        },
                    )
                else:
                    action, payload = (
                        "content.deliver",
                        {
                            "request_id": f"r{n}",
                            "action": ("view", "download", "export")[n % 3],
                            "document_id": doc.id,
                            "customer_id": doc.customer_id,
                            "bytes": 10,
                        },
                    )
                record(
                    session=session,
                    actor="rep",
                    action=action,
                    target=f"document:{doc.id}",
                    payload=payload,
                    ts=ts,
                )
    with transaction(runtime.db.write) as session:
        today = now.date()
        apply_event(
            session=session,
            actor="bench",
            data=EventInput(
                employee="rep",
                type="resignation",
                notice_date=today - timedelta(days=20),
                last_working_date=today + timedelta(days=10),
            ),
            source="bench",
            hr=settings.hr,
            policy=runtime.policies.current,
            now=now,
        )
    return runtime


def time_exposure(rt: Runtime, repeat: int) -> tuple[list[float], list[float], int]:
    from guard.audit.models import AuditEntry
    from guard.hr.archive import exposure_report
    from guard.hr.exposure import latest_departure, window_for
    from guard.people.models import User

    report_times: list[float] = []
    fetch_times: list[float] = []
    rows = 0
    for _ in range(repeat):
        with rt.db.read() as session:
            now = datetime.now(UTC)
            started = time.perf_counter()
            report = exposure_report(session=session, username="rep", hr=rt.settings.hr, now=now)
            report_times.append(time.perf_counter() - started)
            user = session.scalars(select(User).where(User.username == "rep")).one()
            window = window_for(latest_departure(session, user.id), hr=rt.settings.hr, now=now)
            started = time.perf_counter()
            rows = len(
                session.execute(
                    select(AuditEntry.ts, AuditEntry.action, AuditEntry.body)
                    .where(
                        AuditEntry.actor == "rep", AuditEntry.ts >= window.start, AuditEntry.ts <= window.end
                    )
                    .order_by(AuditEntry.seq)
                ).all()
            )
            fetch_times.append(time.perf_counter() - started)
            assert report["totals"]["documents"] == 400
    return report_times, fetch_times, rows


# -- 3. an HR file of many resignations -------------------------------------------------------------------


def time_resignation_file(people: int) -> tuple[float, float, int]:
    from guard.db import transaction
    from guard.detection.models import LookbackRequest
    from guard.hr.inbox.importer import import_bytes
    from guard.people.service import create_user

    with tempfile.TemporaryDirectory(prefix="guard-bench-inbox-") as tmp:
        rt = bench_runtime(Path(tmp), None)
        settings = rt.settings
        now = datetime.now(UTC)
        with transaction(rt.db.write) as session:
            for n in range(people):
                create_user(
                    session=session,
                    actor="bench",
                    username=f"rep{n:04d}",
                    display_name=f"Rep {n}",
                    email=f"rep{n:04d}@example.com",
                    roles=["staff"],
                    passwords=rt.passwords,
                    password=PASSWORD,
                    now=now,
                )
        today = now.date()
        rows = "".join(
            f"rep{n:04d}@example.com,{today},{today + timedelta(days=30)},,,\n" for n in range(people)
        )
        data = (
            "EmailAddress,ResignationDate,LastWorkingDate,EventType,Successor,EmployeeId\n" + rows
        ).encode()
        times = []
        for _ in range(2):
            started = time.perf_counter()
            outcome = import_bytes(
                write=rt.db.write,
                name="resignations.csv",
                data=data,
                actor="hr-inbox",
                source="bench",
                hr=settings.hr,
                policy=rt.policies.current,
                now=now,
            )
            times.append(time.perf_counter() - started)
            assert outcome.accepted, outcome.errors[:3]
        with rt.db.read() as session:
            queued = len(session.scalars(select(LookbackRequest.id)).all())
        rt.close()
    return times[0], times[1], queued


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=30, help="terminations to time")
    parser.add_argument("--entries", type=int, default=10_000, help="audit entries of the reported person")
    parser.add_argument("--repeat", type=int, default=5, help="exposure reports to time per database")
    parser.add_argument("--database-url", default=POSTGRES, help="PostgreSQL URL (a fresh schema is used)")
    parser.add_argument("--resignations", type=int, default=500, help="rows of the HR file in part 3")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    schema, url = fresh_schema(args.database_url)
    try:
        with create_engine(args.database_url).connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
        print(f"database: PostgreSQL {version} (schema {schema}); SQLite (WAL, synchronous=FULL) for part 2")
        print("server: guard serve, 2 workers, PostgreSQL")
        with guard_server(workers=2, database_url=url, **FAST_HASHING) as (base, home):
            to_refusal, attempts, baseline = termination_trials(base, args.trials)
            print(summary("termination -> first refused request", to_refusal))
            print(summary("GET /me of a person still employed (baseline)", baseline))
            first = sum(1 for a in attempts if a == 1)
            print(f"refused on the very next request: {first}/{len(attempts)} trials (max {max(attempts)})")
            ratio = statistics.median(to_refusal) / statistics.median(baseline)
            print(f"ratio termination->refusal : GET /me = {ratio:.2f}")
            print()
            pg_runtime = seed_person(home, url, args.entries)
            report, fetch, rows = time_exposure(pg_runtime, args.repeat)
            print(f"exposure report, {rows} entries in the window ({args.entries} seeded):")
            print(summary("  PostgreSQL: full report", report))
            print(summary("  PostgreSQL: fetching the entries only (baseline)", fetch))
            print(f"  ratio report : fetch = {statistics.median(report) / statistics.median(fetch):.2f}")
            pg_runtime.close()
        with tempfile.TemporaryDirectory(prefix="guard-bench-hr-") as tmp:
            sqlite_runtime = seed_person(Path(tmp), None, args.entries)
            report, fetch, rows = time_exposure(sqlite_runtime, args.repeat)
            print(summary("  SQLite: full report", report))
            print(summary("  SQLite: fetching the entries only (baseline)", fetch))
            print(f"  ratio report : fetch = {statistics.median(report) / statistics.median(fetch):.2f}")
            sqlite_runtime.close()
        applied, duplicate, queued = time_resignation_file(args.resignations)
        print(f"HR file of {args.resignations} resignations (SQLite), one transaction:")
        print(f"  applied                          {applied * 1000:8.0f} ms  ({queued} look-backs queued)")
        print(f"  same file again, all duplicates  {duplicate * 1000:8.0f} ms  (baseline)")
        print(f"  ratio applied : duplicates = {applied / duplicate:.2f}")
    finally:
        drop_schema(args.database_url, schema)


if __name__ == "__main__":
    main()
