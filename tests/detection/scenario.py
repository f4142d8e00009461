"""A generated organisation: several weeks of ordinary work, heavy but legitimate users, and leavers,
some of whom pull customer files on their way out. Pure: a list of rule events in sequence order."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from guard.policies.rules import Event

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
CLASSES = ("public", "internal", "internal", "confidential", "confidential", "restricted")


@dataclass
class Person:
    name: str
    kind: str  # ordinary | heavy | leaver | exfiltrator
    customers: list[str]
    team: list[str] = field(default_factory=list)  # colleagues' customers they sometimes help with
    exfil_from: datetime | None = None


@dataclass
class Organisation:
    people: list[Person]
    events: list[Event]

    def of_kind(self, *kinds: str) -> list[Person]:
        return [p for p in self.people if p.kind in kinds]


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rows: list[tuple[datetime, str, str, str, dict[str, Any]]] = []

    def access(
        self,
        person: Person,
        ts: datetime,
        customer: str,
        *,
        action: str = "view",
        status: str = "active",
        decision: str = "granted",
        honeytoken: bool = False,
        count: int = 1,
    ) -> None:
        document = f"{customer}-d{self.rng.randrange(12)}"
        self.rows.append(
            (
                ts,
                person.name,
                f"access.{action}",
                f"document:{document}",
                {
                    "decision": decision,
                    "document_id": document,
                    "customer_id": customer,
                    "classification": self.rng.choice(CLASSES),
                    "honeytoken": honeytoken,
                    "status": status,
                    "in_portfolio": customer in person.customers,
                    "count": count,
                },
            )
        )

    def external(self, person: Person, ts: datetime, action: str, count: int, status: str) -> None:
        payload = {"source": "crm", "external": True, "count": count, "status": status}
        self.rows.append((ts, person.name, action, "report:accounts", payload))

    def working_time(self, day: datetime, late: bool = False) -> datetime:
        hour = self.rng.uniform(8, 21 if late else 18)
        return day + timedelta(hours=hour)

    def events(self) -> list[Event]:
        self.rows.sort(key=lambda row: row[0])
        return [
            Event.build(seq=seq, ts=ts, actor=actor, action=action, target=target, payload=payload)
            for seq, (ts, actor, action, target, payload) in enumerate(self.rows, start=1)
        ]


def _working_days(weeks: int) -> list[datetime]:
    return [START + timedelta(days=d) for d in range(weeks * 7) if (START + timedelta(days=d)).weekday() < 5]


def _ordinary_day(b: _Builder, person: Person, day: datetime, status: str = "active") -> None:
    rng = b.rng
    heavy = person.kind == "heavy"
    views = rng.randint(100, 200) if heavy else rng.randint(5, 25)
    if rng.random() < 0.1:
        views = int(views * rng.uniform(1.5, 2.5))  # a busy day
    for _ in range(views):
        b.access(
            person, b.working_time(day, late=rng.random() < 0.05), rng.choice(person.customers), status=status
        )
    downloads = rng.randint(20, 40) if heavy else rng.randint(0, 3)
    if status == "notice":
        downloads = min(downloads, rng.randint(0, 2))  # refused on notice: people soon stop trying
    for _ in range(downloads):
        decision = "denied" if status == "notice" else "granted"
        b.access(
            person,
            b.working_time(day),
            rng.choice(person.customers),
            action="download",
            status=status,
            decision=decision,
        )
    if rng.random() < 0.02 and person.team:  # helping a colleague with one of theirs
        b.access(person, b.working_time(day), rng.choice(person.team), status=status, decision="pending")
    if rng.random() < 0.03:  # a few refusals over quota
        for _ in range(rng.randint(1, 3)):
            b.access(
                person, b.working_time(day), rng.choice(person.customers), status=status, decision="denied"
            )
    if rng.random() < 0.02:  # a little work in the evening, at home
        evening = day + timedelta(hours=rng.uniform(21.5, 23))
        for i in range(rng.randint(1, 5)):
            b.access(person, evening + timedelta(minutes=3 * i), rng.choice(person.customers), status=status)


def _exfiltrate(b: _Builder, person: Person, day: datetime, pattern: int, all_customers: list[str]) -> None:
    rng = b.rng
    at = day + timedelta(hours=rng.uniform(9, 16))
    if pattern == 0:  # bulk downloads in an hour (refused on notice, still attempted)
        for i in range(rng.randint(15, 30)):
            b.access(
                person,
                at + timedelta(minutes=2 * i),
                rng.choice(person.customers),
                action="download",
                status="notice",
                decision="denied",
            )
    elif pattern == 1:  # a big report export from the CRM
        b.external(person, at, "crm.export", rng.randint(2000, 8000), "notice")
    elif pattern == 2:  # browsing many other reps' customers
        for i, customer in enumerate(rng.sample(all_customers, 30)):
            b.access(person, at + timedelta(minutes=i), customer, status="notice", decision="denied")
    elif pattern == 3:  # one export of a dozen documents
        b.access(
            person,
            at,
            rng.choice(person.customers),
            action="export",
            status="notice",
            decision="denied",
            count=12,
        )
    elif pattern == 4:  # at night, when nobody watches
        night = day + timedelta(hours=23)
        for i in range(8):
            b.access(person, night + timedelta(minutes=4 * i), rng.choice(person.customers), status="notice")
    else:  # opens a decoy planted among their customers' files
        b.access(person, at, rng.choice(person.customers), status="notice", honeytoken=True)


def generate(
    *, people: int = 300, weeks: int = 6, leavers: int = 8, exfiltrators: int = 6, seed: int = 7
) -> Organisation:
    b = _Builder(seed)
    rng = b.rng
    customers = [f"c{i}" for i in range(people * 12)]
    rng.shuffle(customers)
    staff: list[Person] = []
    for i in range(people):
        kind = "heavy" if i % 20 == 0 else "ordinary"
        portfolio = customers[i * 12 : i * 12 + rng.randint(8, 12)]
        staff.append(Person(name=f"p{i:03d}", kind=kind, customers=portfolio))
    for i, person in enumerate(staff):
        team = staff[(i // 6) * 6 : (i // 6) * 6 + 6]
        person.team = [c for mate in team if mate is not person for c in mate.customers]
    days = _working_days(weeks)
    notice_from = days[len(days) - 10]  # the last two weeks
    for person in rng.sample([p for p in staff if p.kind == "ordinary"], leavers + exfiltrators)[:leavers]:
        person.kind = "leaver"
    for n, person in enumerate(rng.sample([p for p in staff if p.kind == "ordinary"], exfiltrators)):
        person.kind = "exfiltrator"
        exfil_day = days[len(days) - rng.randint(2, 8)]
        person.exfil_from = exfil_day
        _exfiltrate(b, person, exfil_day, n % 6, customers)
    for person in staff:
        for day in days:
            on_notice = person.kind in ("leaver", "exfiltrator") and day >= notice_from
            _ordinary_day(b, person, day, status="notice" if on_notice else "active")
    return Organisation(people=staff, events=b.events())
