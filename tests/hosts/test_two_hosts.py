"""Two `guard serve` hosts on one PostgreSQL database, each with its own GUARD_HOME and port, sharing no
folder but the HR inbox: what one host does, the other sees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import func, select

from guard.audit.models import AuditCheckpoint, AuditEntry
from guard.runtime import Runtime, build_runtime
from tests.audit.receivers import Received, Webhook
from tests.broker.helpers import Broker
from tests.broker.test_access import audit
from tests.detection.helpers import alerts
from tests.hr.test_inbox import drop, wait_for
from tests.support.databases import give_master_key
from tests.support.live import free_port, killable_server, run_guard
from tests.support.people import People, Person
from tests.support.settings import guard_settings

FAST = {
    "GUARD_AUTH__KEYS_RELOAD_SECONDS": "0.5",
    "GUARD_HR__INBOX_POLL_SECONDS": "0.2",
    "GUARD_HR__INBOX_SETTLE_SECONDS": "0.2",
    "GUARD_AUDIT__CHECKPOINT_EVERY_ENTRIES": "3",
}


@pytest.fixture
def shared_inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "shared-inbox"
    inbox.mkdir()
    return inbox


def host_home(tmp_path: Path, name: str) -> Path:
    """A host as `guard init` leaves it when given the first host's master key: that key, nothing else."""
    home = tmp_path / name
    home.mkdir()
    give_master_key(home)
    return home


@pytest.fixture
def office(guard_home: Path, postgres_url: str) -> Iterator[Runtime]:
    """The test's own view of the shared database (real time, as the hosts run)."""
    runtime = build_runtime(guard_settings(guard_home, postgres_url))
    yield runtime
    runtime.close()


def people_on(base: str, office: Runtime) -> tuple[httpx.Client, People]:
    client = httpx.Client(base_url=base, timeout=30)
    return client, People(client, office)  # type: ignore[arg-type]


def works(client: httpx.Client, token: str) -> bool:
    return client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_document_sealed_on_one_host_is_read_on_the_other_within_the_same_quota(
    tmp_path: Path, postgres_url: str, office: Runtime, shared_inbox: Path
) -> None:
    inbox = {"GUARD_HR_INBOX_DIR": str(shared_inbox), **FAST}
    a_home, b_home = host_home(tmp_path, "a"), host_home(tmp_path, "b")
    with (
        killable_server(a_home, postgres_url, **inbox) as (a_base, _kill_a),
        killable_server(b_home, postgres_url, **inbox) as (b_base, _kill_b),
    ):
        a_client, people = people_on(a_base, office)
        b_client = httpx.Client(base_url=b_base, timeout=30)
        on_a, on_b = Broker(a_client, people), Broker(b_client, people)
        ann = on_a.person("ann")
        document = on_a.upload(on_a.customer(ann), content=b"Acme: renewal due in May.\n")
        assert not list((a_home / "vault").glob("??/*")), "host A kept the document on its own disk"
        looks = [on_a.ask(ann, document), on_b.ask(ann, document), on_b.ask(ann, document)]
        assert [look["views_left"] for look in looks] == [2, 1, 0]  # one count across both hosts
        delivered = b_client.get(f"/content/{looks[0]['content_token']}")  # granted on A, opened on B
        assert delivered.status_code == 200, delivered.text
        assert delivered.content.startswith(b"Acme: renewal due in May.\n")
        assert b"Copy for ann" in delivered.content  # watermarked for the reader
        assert on_b.ask(ann, document)["status"] == "pending"  # the fourth look, on either host
        assert on_a.ask(ann, document)["status"] == "pending"
    assert [d["decision"] for d in audit(office, "access.view")] == [
        "granted",
        "granted",
        "granted",
        "pending",
        "pending",
    ]


def test_a_key_rotated_and_retired_on_one_host_is_refused_on_the_other_at_once(
    tmp_path: Path, postgres_url: str, office: Runtime
) -> None:
    a_home, b_home = host_home(tmp_path, "a"), host_home(tmp_path, "b")
    with (
        killable_server(a_home, postgres_url, **FAST) as (a_base, _kill_a),
        killable_server(b_home, postgres_url, GUARD_AUTH__KEYS_RELOAD_SECONDS="3600") as (b_base, _kill_b),
    ):
        a_client, people = people_on(a_base, office)
        b_client = httpx.Client(base_url=b_base, timeout=30)
        people.add("ann", login=False)
        old = people.login("ann")
        old_kid = jwt.get_unverified_header(old.access_token)["kid"]
        assert works(b_client, old.access_token)

        rotated = run_guard(a_home, postgres_url, "keys", "rotate", "jwt")
        assert rotated.returncode == 0, rotated.stderr
        fresh: list[Person] = []
        wait_for(
            lambda: (
                fresh.append(people.login("ann"))
                or jwt.get_unverified_header(fresh[-1].access_token)["kid"] != old_kid
            ),
            "host A to sign with the new key",
        )
        # Host B reloads its keys only hourly, yet knows the new key on the first token that names it.
        assert works(b_client, fresh[-1].access_token)

        retired = run_guard(a_home, postgres_url, "keys", "retire", old_kid)
        assert retired.returncode == 0, retired.stderr
        refused = b_client.get("/me", headers=old.auth)  # no waiting: the very next request
        assert refused.status_code == 401
        assert "not trusted (retired or unknown)" in refused.json()["detail"]
        assert not works(a_client, old.access_token)
        assert works(b_client, fresh[-1].access_token)
    assert [e["kid"] for e in audit(office, "keys.retire")] == [old_kid]


def resignation(email: str) -> str:
    today = datetime.now(UTC).date()
    return (
        "EmailAddress,ResignationDate,LastWorkingDate,EventType,Successor,EmployeeId\n"
        f"{email},{today},{today + timedelta(days=30)},Resignation,,\n"
    )


def lifecycle(client: httpx.Client, people: People, username: str) -> str:
    admin = people.login(people.admin.username)
    listed = client.get("/users", headers=admin.auth).json()
    return str(next(u["lifecycle"] for u in listed if u["username"] == username))


def checkpoints(office: Runtime) -> int:
    with office.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(AuditCheckpoint)) or 0)


def test_when_the_leader_is_killed_the_other_host_takes_over_its_work(
    tmp_path: Path, postgres_url: str, office: Runtime, shared_inbox: Path
) -> None:
    received = Received()
    siem_port = free_port()
    siem = Webhook(siem_port, received, [])
    forwarder = [{"name": "soc", "kind": "webhook", "url": f"http://127.0.0.1:{siem_port}/guard"}]
    clock_file = tmp_path / "clock-offset"  # lets the test move both hosts to after the last working day
    shared = {
        "GUARD_HR_INBOX_DIR": str(shared_inbox),
        "GUARD_CLOCK_FILE": str(clock_file),
        "GUARD_HR__SWEEP_SECONDS": "0.5",
        "GUARD_AUDIT__FORWARDERS": json.dumps(forwarder),
        **FAST,
    }
    a_home, b_home = host_home(tmp_path, "a"), host_home(tmp_path, "b")
    try:
        with killable_server(a_home, postgres_url, **shared) as (a_base, kill_a):
            a_client, people = people_on(a_base, office)
            on_a = Broker(a_client, people)
            security = on_a.person("sec", "security")
            ann, cat = on_a.person("ann"), on_a.person("cat")
            decoy = on_a.upload(on_a.customer(ann), by=security, honeytoken="true")
            drop(shared_inbox, "first.csv", resignation("ann@example.com"))
            wait_for(
                lambda: lifecycle(a_client, people, "ann") == "notice", "host A, the leader, to apply it"
            )
            with killable_server(b_home, postgres_url, **shared) as (b_base, _kill_b):
                b_client = httpx.Client(base_url=b_base, timeout=30)
                on_b = Broker(b_client, people)
                before = checkpoints(office)
                on_a.ask_response(ann, decoy)  # just before the crash: A may or may not get to judge it
                kill_a()  # SIGKILL: no goodbye, the leader's database session simply ends
                people.client = b_client  # type: ignore[assignment]
                drop(shared_inbox, "second.csv", resignation("cat@example.com"))
                wait_for(
                    lambda: lifecycle(b_client, people, "cat") == "notice", "host B to take the inbox over"
                )
                on_b.ask_response(cat, decoy)
                wait_for(lambda: len(alerts(office, rule="honeytoken")) >= 2, "host B to judge both looks")
                wait_for(lambda: checkpoints(office) > before, "host B to sign checkpoints")
                head = office_head(office)
                wait_for(lambda: set(received.seqs) >= set(range(1, head + 1)), "host B to forward the rest")
                clock_file.write_text(str(31 * 24 * 3600))  # past both last working days
                wait_for(
                    lambda: [lifecycle(b_client, people, n) for n in ("ann", "cat")] == ["departed"] * 2,
                    "host B's sweeper to apply the departures",
                )
    finally:
        siem.stop()
    processed = sorted(p.name.split("-", 1)[1] for p in (shared_inbox / "processed").glob("*.csv"))
    assert processed == ["first.csv", "second.csv"]  # each file applied once, none left behind
    assert sorted(e["target"] for e in audit(office, "hr.resignation")) == ["user:ann", "user:cat"]
    assert sorted(a.username for a in alerts(office, rule="honeytoken")) == [
        "ann",
        "cat",
    ]  # none lost or doubled
    assert received.seqs[: len(set(received.seqs))] == sorted(set(received.seqs))  # in order, none skipped


def office_head(office: Runtime) -> int:
    with office.db.read() as session:
        return int(session.scalar(select(func.max(AuditEntry.seq))) or 0)
