"""A rehearsal for a rule set: a generated sales organisation over several months, and how the rules do
on it.

The organisation has departments with a manager each, reps with a portfolio of customers, heavy but
legitimate users, a weekly rhythm (quiet weekends, the odd evening) and a seasonal one (quarter-end
weeks are busier for everyone). Some people resign: honest leavers read their own customers more while
they hand over; exfiltrators take data in one of the `STYLES`. `evaluate` runs the rules over the stream
as the live engine does, plus a look-back at each resignation as the HR flow asks for, and reports per
style how many were caught at high or critical severity, how long after their first exfiltrating entry,
and how many innocent people were alerted at high or critical. Pure: no database, no clock.
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from guard.detection.lookback import judged_as_leaver
from guard.policies.rules import Detection, Detector, RuleSet
from guard.policies.rules.events import Event

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
CLASSIFICATIONS = ("public", "internal", "internal", "confidential", "confidential", "restricted")
STYLES = (
    "bulk-download",  # a burst of downloads while on notice (refused, still attempted)
    "bulk-view",  # dozens of views in half an hour while on notice: a view is a copy
    "before-resigning",  # downloads in the weeks before the resignation, found by the look-back
    "slow",  # a few dozen extra documents every day of the notice period, no hour out of the ordinary
    "crm-export",  # a big report exported from the CRM, reported by that system
    "outside-portfolio",  # browsing other reps' customers while on notice
    "other-customers",  # two or three other reps' customers a day, every day of the notice
    "night",  # downloads late at night while on notice
    "decoy",  # opens a decoy planted among their customers' files
)
SERIOUS = ("high", "critical")
LOOKBACK_DAYS = 90


@dataclass
class Person:
    name: str
    kind: str  # ordinary | heavy | manager | honest-leaver | exfiltrator
    department: str
    customers: list[str]
    colleagues_customers: list[str] = field(default_factory=list)
    style: str | None = None
    notice_at: datetime | None = None
    first_exfil: datetime | None = None

    @property
    def innocent(self) -> bool:
        return self.kind != "exfiltrator"


@dataclass
class Organisation:
    people: list[Person]
    events: list[Event]
    weeks: int
    seed: int

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
        decision: str = "granted",
        honeytoken: bool = False,
        count: int = 1,
        exfil: bool = False,
    ) -> None:
        document = f"{customer}-d{self.rng.randrange(12)}"
        status = "notice" if person.notice_at is not None and ts >= person.notice_at else "active"
        payload = {
            "decision": decision,
            "document_id": document,
            "customer_id": customer,
            "classification": self.rng.choice(CLASSIFICATIONS),
            "honeytoken": honeytoken,
            "status": status,
            "in_portfolio": customer in person.customers,
            "department": person.department,
            "count": count,
        }
        self.rows.append((ts, person.name, f"access.{action}", f"document:{document}", payload))
        if exfil:
            self._exfil(person, ts)

    def external(self, person: Person, ts: datetime, action: str, count: int) -> None:
        status = "notice" if person.notice_at is not None and ts >= person.notice_at else "active"
        payload = {"source": "crm", "external": True, "count": count, "status": status}
        self.rows.append((ts, person.name, action, "report:accounts", payload))
        self._exfil(person, ts)

    def _exfil(self, person: Person, ts: datetime) -> None:
        if person.first_exfil is None or ts < person.first_exfil:
            person.first_exfil = ts

    def at(self, day: datetime, start: float = 8, end: float = 18) -> datetime:
        return day + timedelta(hours=self.rng.uniform(start, end))

    def events(self) -> list[Event]:
        self.rows.sort(key=lambda row: row[0])
        return [
            Event.build(seq=seq, ts=ts, actor=actor, action=action, target=target, payload=payload)
            for seq, (ts, actor, action, target, payload) in enumerate(self.rows, start=1)
        ]


def _quarter_end(day: datetime) -> bool:
    """The last week and a half of a quarter: deals close, everyone reads more."""
    return day.month in (3, 6, 9, 12) and day.day >= 20


def _ordinary_day(b: _Builder, person: Person, day: datetime) -> None:
    rng = b.rng
    weekend = day.weekday() >= 5
    if weekend and rng.random() > 0.04:
        return
    on_notice = person.notice_at is not None and day >= person.notice_at
    heavy = person.kind in ("heavy", "manager")
    views = rng.randint(60, 140) if heavy else rng.randint(5, 25)
    if weekend:
        views = rng.randint(1, 6)
    if _quarter_end(day):
        views = int(views * rng.uniform(1.3, 2.0))
    if rng.random() < 0.08:
        views = int(views * rng.uniform(1.5, 2.5))  # a busy day
    if on_notice and person.kind == "honest-leaver":
        views = int(views * rng.uniform(1.2, 1.7))  # handover: re-reading their own accounts
    reach = person.customers + (person.colleagues_customers if person.kind == "manager" else [])
    for _ in range(views):
        b.access(person, b.at(day), rng.choice(reach))
    downloads = rng.randint(10, 30) if heavy else rng.randint(0, 3)
    if _quarter_end(day):
        downloads = int(downloads * rng.uniform(1.2, 1.8))
    if on_notice:
        downloads = min(downloads, rng.randint(0, 2))  # refused on notice: people soon stop trying
    for _ in range(0 if weekend else downloads):
        b.access(
            person,
            b.at(day),
            rng.choice(reach),
            action="download",
            decision="denied" if on_notice else "granted",
        )
    if rng.random() < 0.03 and person.colleagues_customers:  # helping a colleague with one of theirs
        b.access(person, b.at(day), rng.choice(person.colleagues_customers), decision="pending")
    if rng.random() < 0.03:  # a few refusals over quota
        for _ in range(rng.randint(1, 3)):
            b.access(person, b.at(day), rng.choice(person.customers), decision="denied")
    if rng.random() < 0.02:  # a little work in the evening, at home
        evening = day + timedelta(hours=rng.uniform(21.5, 23))
        for i in range(rng.randint(1, 4)):
            b.access(person, evening + timedelta(minutes=3 * i), rng.choice(person.customers))


def _exfiltrate(b: _Builder, person: Person, days: list[datetime], customers: list[str]) -> None:
    rng, notice = b.rng, person.notice_at
    assert notice is not None
    notice_days = [d for d in days if d >= notice and d.weekday() < 5]
    day = rng.choice(notice_days[: max(1, len(notice_days) - 2)])
    at = b.at(day, 9, 16)
    style = person.style
    if style == "bulk-download":
        for i in range(rng.randint(12, 30)):
            b.access(
                person,
                at + timedelta(minutes=3 * i),
                rng.choice(person.customers),
                action="download",
                decision="denied",
                exfil=True,
            )
    elif style == "bulk-view":
        reach = person.customers + person.colleagues_customers
        for i in range(rng.randint(40, 80)):
            b.access(person, at + timedelta(seconds=rng.randint(10, 40) * i), rng.choice(reach), exfil=True)
    elif style == "before-resigning":  # 25-odd downloads and an export in the fortnight before
        before = [
            d
            for d in days
            if notice - timedelta(days=14) <= d <= notice - timedelta(days=1) and d.weekday() < 5
        ]
        for _ in range(rng.randint(20, 35)):
            when, customer = b.at(rng.choice(before)), rng.choice(person.customers)
            b.access(person, when, customer, action="download", exfil=True)
        when, customer = b.at(rng.choice(before)), rng.choice(person.customers)
        b.access(person, when, customer, action="export", count=rng.randint(8, 15), exfil=True)
    elif style == "slow":  # their own accounts, spread over every working day of the notice
        for d in notice_days:
            for _ in range(rng.randint(20, 35)):
                b.access(person, b.at(d), rng.choice(person.customers), exfil=True)
    elif style == "crm-export":
        b.external(person, at, "crm.export", rng.randint(1500, 8000))
    elif style == "outside-portfolio":
        for i, customer in enumerate(rng.sample(customers, rng.randint(25, 40))):
            decision = rng.choice(("granted", "pending", "denied"))
            b.access(person, at + timedelta(minutes=i), customer, decision=decision, exfil=True)
    elif style == "other-customers":
        others = [c for c in customers if c not in person.customers]
        for d in notice_days:
            for customer in rng.sample(others, rng.randint(2, 3)):
                decision = rng.choice(("granted", "pending", "denied"))
                b.access(person, b.at(d), customer, decision=decision, exfil=True)
    elif style == "night":
        night = day + timedelta(hours=rng.uniform(22.5, 23.5))
        for i in range(rng.randint(10, 16)):
            b.access(
                person,
                night + timedelta(minutes=3 * i),
                rng.choice(person.customers),
                action="download",
                decision="denied",
                exfil=True,
            )
    else:  # decoy
        b.access(person, at, rng.choice(person.customers), honeytoken=True, exfil=True)


def generate(
    *,
    people: int = 300,
    weeks: int = 16,
    per_style: int = 3,
    honest_leavers: int = 12,
    seed: int = 7,
    start: datetime = START,
) -> Organisation:
    """`people` in departments of ten, `weeks` of work from `start`; `per_style` exfiltrators for each
    style and `honest_leavers` who resign and hand over, all resigning four to seven weeks before the end
    (a notice period of a month or more is in the data)."""
    b = _Builder(seed)
    rng = b.rng
    customers = [f"c{i}" for i in range(people * 12)]
    rng.shuffle(customers)
    staff: list[Person] = []
    for i in range(people):
        department = f"dept{i // 10:02d}"
        kind = "manager" if i % 10 == 0 else "heavy" if i % 20 == 5 else "ordinary"
        portfolio = customers[i * 12 : i * 12 + rng.randint(8, 12)]
        staff.append(Person(name=f"p{i:03d}", kind=kind, department=department, customers=portfolio))
    for person in staff:
        team = [p for p in staff if p.department == person.department and p is not person]
        person.colleagues_customers = [c for mate in team for c in mate.customers]
    days = [start + timedelta(days=d) for d in range(weeks * 7)]
    working = [d for d in days if d.weekday() < 5]
    ordinary = [p for p in staff if p.kind == "ordinary"]
    leaving = rng.sample(ordinary, min(len(ordinary), honest_leavers + per_style * len(STYLES)))
    for n, person in enumerate(leaving):
        person.notice_at = rng.choice(working[-35:-20]) + timedelta(hours=rng.uniform(9, 12))
        if n < honest_leavers:
            person.kind = "honest-leaver"
        else:
            person.kind, person.style = "exfiltrator", STYLES[(n - honest_leavers) % len(STYLES)]
    for person in staff:
        for day in days:
            _ordinary_day(b, person, day)
        if person.kind == "exfiltrator":
            _exfiltrate(b, person, days, customers)
    return Organisation(people=staff, events=b.events(), weeks=weeks, seed=seed)


# -- judging a rule set on it ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RaisedAlert:
    user: str
    rule: str
    severity: str
    at: datetime  # event time of the finding; for a look-back, the resignation that asked for it
    lookback: bool


@dataclass
class StyleResult:
    style: str
    total: int = 0
    caught: int = 0
    delays: list[timedelta] = field(default_factory=list)
    rules: set[str] = field(default_factory=set)


@dataclass
class ScenarioReport:
    people: int
    weeks: int
    events: int
    styles: list[StyleResult]
    innocents: int
    innocents_alerted: dict[str, int]  # kind of person -> how many were alerted at high or critical
    alerts: list[RaisedAlert]

    @property
    def innocent_rate_per_month(self) -> float:
        months = self.weeks * 7 / 30
        return sum(self.innocents_alerted.values()) / max(1, self.innocents) / months

    def table(self) -> str:
        lines = [
            f"{self.people} people, {self.weeks} weeks, {self.events:,} entries; "
            f"{len(self.alerts)} alerts ({sum(a.severity in SERIOUS for a in self.alerts)} high or critical)",
            f"{'style':<20} {'caught':>8}  {'first entry -> alert':>22}  rules",
        ]
        for row in self.styles:
            delay = "-"
            if row.delays:
                median = statistics.median(d.total_seconds() for d in row.delays)
                delay = f"median {_span(median)}, max {_span(max(d.total_seconds() for d in row.delays))}"
            rules = ", ".join(sorted(row.rules))
            lines.append(f"{row.style:<20} {row.caught:>3} / {row.total:<3} {delay:>22}  {rules}")
        alerted = sum(self.innocents_alerted.values())
        by_kind = ", ".join(f"{kind} {n}" for kind, n in sorted(self.innocents_alerted.items())) or "none"
        lines.append(
            f"innocent people alerted at high or critical: {alerted} of {self.innocents} ({by_kind}); "
            f"{self.innocent_rate_per_month * 100:.2f} in 100 a month"
        )
        return "\n".join(lines)


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _raised(found: Iterable[object], *, lookback_at: datetime | None = None) -> list[RaisedAlert]:
    return [
        RaisedAlert(
            user=d.finding.user,
            rule=d.rule.name,
            severity=d.rule.spec.severity,
            at=lookback_at or d.finding.ts,
            lookback=lookback_at is not None,
        )
        for d in found
        if isinstance(d, Detection)
    ]


def evaluate(org: Organisation, rules: RuleSet) -> ScenarioReport:
    alerts = _raised(Detector(rules.rules).run(org.events))
    by_actor: dict[str, list[Event]] = defaultdict(list)
    for event in org.events:
        by_actor[event.actor].append(event)
    for person in org.people:
        notice = person.notice_at
        if notice is None:
            continue
        since = notice - timedelta(days=LOOKBACK_DAYS)
        past = (e for e in by_actor[person.name] if since <= e.ts <= notice)
        alerts += _raised(Detector(rules.rules).run(judged_as_leaver(past)), lookback_at=notice)
    serious = [a for a in alerts if a.severity in SERIOUS]
    people = {p.name: p for p in org.people}
    styles = {style: StyleResult(style) for style in STYLES}
    for person in org.of_kind("exfiltrator"):
        assert person.style is not None
        row = styles[person.style]
        row.total += 1
        start = person.first_exfil
        hits = [a for a in serious if a.user == person.name and start is not None and a.at >= start]
        if hits and start is not None:
            first = min(hits, key=lambda a: a.at)
            row.caught += 1
            row.delays.append(first.at - start)
            row.rules.update(a.rule for a in hits)
    alerted: dict[str, int] = defaultdict(int)
    for name in {a.user for a in serious}:
        who = people.get(name)
        if who is not None and who.innocent:
            alerted[who.kind] += 1
    return ScenarioReport(
        people=len(org.people),
        weeks=org.weeks,
        events=len(org.events),
        styles=list(styles.values()),
        innocents=sum(p.innocent for p in org.people),
        innocents_alerted=dict(alerted),
        alerts=alerts,
    )
