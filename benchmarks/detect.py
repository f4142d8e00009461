"""Detection: the default rule set's throughput on replayed audit entries, and commit-to-alert latency.

1. Throughput (in process): audit rows as the engine reads them (seq and the hashed JSON
   body) are decoded into events, then run through the shipped rules. Baseline: decoding the same rows
   alone, i.e. plain iteration over the entries. Printed: entries/s for both and the ratio.
2. Latency: a real `guard serve` (detection runs in it as the leader's background job); entries are
   committed straight into its database and the time until each one's alert row is visible is measured.
3. The scenario (guard.detection.scenario): a generated organisation of a few hundred people over
   months; per exfiltration style, caught / total at high or critical and the time from the first
   exfiltrating entry to the alert, and innocent people alerted. Printed for each --seed.
4. Look-back at a resignation for a person with 10,000 entries (SQLite): the queued look-back as the
   engine runs it (read, judge, commit). Baseline, same run: fetching that person's entries alone.

python -m benchmarks.detect [--entries 200000] [--samples 20] [--database-url URL] [--seeds 7,8]
(`--entries 1000000` for the full million; the database for --database-url must be empty.)
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import guard_server, machine
from guard.audit.chain import canonical_body
from guard.detection.stream import to_event
from guard.policies.rules import Detection, Detector, load_rules
from guard.settings import REPO_CONFIG_DIR

RULES = REPO_CONFIG_DIR / "policies" / "rules"
CHUNK = 50_000
ACTIONS = [
    ("access.view", 70),
    ("access.download", 12),
    ("content.deliver", 8),
    ("access.export", 2),
    ("auth.login", 4),
    ("crm.export", 2),
    ("access.approve", 2),
]


def rows(n: int, *, people: int = 2000, seed: int = 11) -> Iterator[list[tuple[Any, ...]]]:
    """Chunks of synthetic audit rows: 2,000 people at work, about two entries a second, round the clock."""
    rng = random.Random(seed)
    names = [a for a, w in ACTIONS for _ in range(w)]
    ts = datetime(2026, 1, 5, 8, tzinfo=UTC)
    chunk: list[tuple[Any, ...]] = []
    for seq in range(1, n + 1):
        ts += timedelta(milliseconds=rng.randint(0, 1000))
        person = rng.randrange(people)
        actor = f"p{person:04d}"
        action = rng.choice(names)
        own = rng.random() < 0.95  # mostly their own portfolio of ten customers
        customer = f"c{person * 10 + rng.randrange(10) if own else rng.randrange(people * 10)}"
        document = f"{customer}-d{rng.randrange(8)}"
        payload: dict[str, Any] = {
            "request_id": f"r{seq}",
            "decision": "granted" if rng.random() < 0.9 else "denied",
            "rule": "quota",
            "document_id": document,
            "customer_id": customer,
            "classification": rng.choice(("public", "internal", "confidential", "restricted")),
            "honeytoken": False,
            "status": "notice" if actor.endswith("7") and rng.random() < 0.1 else "active",
            "in_portfolio": own,
            "count": 1,
            "views_left": 2,
            "reason": "quarterly review with the customer",
        }
        if action == "crm.export":
            payload = {"source": "crm", "external": True, "count": rng.randint(1, 300)}
        body = canonical_body(
            ts=ts, actor=actor, action=action, target=f"document:{document}", payload=payload
        )
        chunk.append((seq, body.decode()))  # what the stream reads: seq and the hashed body
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def throughput(entries: int) -> None:
    rules = load_rules(RULES)
    detector = Detector(rules.rules)
    decode_seconds = rules_seconds = 0.0
    alerts = 0
    for chunk in rows(entries):
        started = time.perf_counter()
        for row in chunk:
            to_event(row)
        decode_seconds += time.perf_counter() - started
        started = time.perf_counter()
        for row in chunk:
            found = detector.observe(to_event(row))
            if found:
                alerts += sum(isinstance(o, Detection) for o in found)
        rules_seconds += time.perf_counter() - started
    plain, with_rules = entries / decode_seconds, entries / rules_seconds
    print(f"entries replayed                   {entries:>10,}   ({len(rules.rules)} rules, {alerts} alerts)")
    print(f"plain iteration (decode only)      {plain:>10,.0f} entries/s")
    print(f"decode + default rules             {with_rules:>10,.0f} entries/s")
    slowdown = rules_seconds / decode_seconds
    print(f"ratio rules : plain                {with_rules / plain:>10.2f}  (time x{slowdown:.2f})")


def latency(samples: int, database_url: str | None) -> None:
    from sqlalchemy import select

    from guard.audit.log import install_hooks, record
    from guard.db import open_database, transaction
    from guard.detection.models import Alert

    install_hooks()
    with guard_server(database_url=database_url) as (_base, home):
        url = database_url or f"sqlite:///{(Path(home) / 'guard.db').resolve()}"
        db = open_database(url)
        waits: list[float] = []
        rng = random.Random(5)
        for i in range(samples):
            time.sleep(rng.uniform(0.05, 0.3))  # entries arrive at random moments between polls
            with transaction(db.write) as session:
                entry = record(
                    session=session,
                    actor=f"bench{i}",
                    action="access.view",
                    target="document:decoy",
                    payload={
                        "decision": "granted",
                        "document_id": "decoy",
                        "honeytoken": True,
                        "status": "active",
                    },
                    ts=datetime.now(UTC),
                )
            committed = time.perf_counter()
            deadline = committed + 30
            while time.perf_counter() < deadline:
                with db.read() as session:
                    if session.scalar(select(Alert.id).where(Alert.trigger_seq == entry.seq)):
                        break
                time.sleep(0.002)
            else:
                raise SystemExit(f"no alert for entry {entry.seq} within 30 s")
            waits.append(time.perf_counter() - committed)
        db.dispose()
    ordered = sorted(waits)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    print(
        f"commit -> alert visible             p50 {statistics.median(waits) * 1000:7.0f} ms   "
        f"p95 {p95 * 1000:7.0f} ms   max {max(waits) * 1000:7.0f} ms   n={samples} "
        f"(engine polls every 0.5 s)"
    )


def scenario(seeds: list[int], people: int, weeks: int) -> None:
    from guard.detection.scenario import evaluate, generate

    rules = load_rules(RULES)
    for seed in seeds:
        started = time.perf_counter()
        org = generate(people=people, weeks=weeks, seed=seed)
        generated = time.perf_counter()
        report = evaluate(org, rules)
        judged = time.perf_counter() - generated
        print(
            f"-- scenario, seed {seed} (generated in {generated - started:.1f} s, judged in {judged:.1f} s, "
            f"{len(org.events) / judged:,.0f} entries/s with look-backs)"
        )
        print(report.table())


def lookback_time(entries: int, repeat: int) -> None:
    import tempfile

    from sqlalchemy import select

    from benchmarks.hr import seed_person
    from guard.audit.models import AuditEntry
    from guard.detection.lookback import find_in_past, run_queued

    with tempfile.TemporaryDirectory() as home:
        rt = seed_person(Path(home), None, entries)
        rules = rt.rules.current(rt.clock.now())
        fetch: list[float] = []
        judge: list[float] = []
        for _ in range(repeat):
            with rt.db.read() as session:
                started = time.perf_counter()
                rows = session.execute(
                    select(AuditEntry.seq, AuditEntry.body)
                    .where(AuditEntry.actor == "rep")
                    .order_by(AuditEntry.seq)
                ).all()
                fetch.append(time.perf_counter() - started)
                since = datetime.now(UTC) - timedelta(days=90)
                started = time.perf_counter()
                find_in_past(session=session, username="rep", since=since, rules=rules, as_leaver=True)
                judge.append(time.perf_counter() - started)
        started = time.perf_counter()
        done = run_queued(db=rt.db, rules=rules, now=datetime.now(UTC))
        queued = time.perf_counter() - started
        rt.close()
    base, judged = statistics.median(fetch), statistics.median(judge)
    print(f"-- look-back for a person with {len(rows):,} entries (SQLite, {len(rules.rules)} rules)")
    print(f"fetch the person's entries (baseline)  {base * 1000:8.1f} ms")
    print(f"read + judge as a leaver               {judged * 1000:8.1f} ms   ratio {judged / base:.1f}")
    print(
        f"queued look-back as the engine runs it {queued * 1000:8.1f} ms   ({done} request, one short commit)"
    )


def database_name(url: str | None) -> str:
    if not url:
        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=FULL)"
    return url.split("://", 1)[0].split("+", 1)[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--entries", type=int, default=200_000, help="entries to replay (1000000 for the full run)"
    )
    parser.add_argument("--samples", type=int, default=20, help="entries timed from commit to alert")
    parser.add_argument("--database-url", default=None, help="an empty database for the latency part")
    parser.add_argument("--seeds", default="7,8", help="scenario seeds, comma-separated")
    parser.add_argument("--people", type=int, default=300, help="scenario: people in the organisation")
    parser.add_argument("--weeks", type=int, default=16, help="scenario: weeks of work")
    parser.add_argument(
        "--lookback-entries", type=int, default=10_000, help="entries of the resigning person"
    )
    args = parser.parse_args()
    print(f"machine: {machine()}; database for latency: {database_name(args.database_url)}")
    throughput(args.entries)
    latency(args.samples, args.database_url)
    scenario([int(s) for s in args.seeds.split(",") if s.strip()], args.people, args.weeks)
    lookback_time(args.lookback_entries, repeat=5)


if __name__ == "__main__":
    main()
