"""Approvals raced across two worker processes on PostgreSQL: the quota still holds exactly."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import select

from guard.access.models import AccessCounter, AccessRequest
from tests.broker.helpers import Broker
from tests.support.live import live_server, worker_pids
from tests.support.people import People


def test_approvals_raced_by_two_approvers_in_two_workers_grant_exactly_the_quota(
    postgres_url: str, guard_home: Path, pg_people: People
) -> None:
    with (
        live_server(guard_home, postgres_url, workers=2) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        assert len(worker_pids(base)) == 2
        broker = Broker(http, People(http, pg_people.runtime))  # type: ignore[arg-type]
        ann = broker.person("ann")
        approvers = [broker.person(name, "approver") for name in ("alice", "carol")]
        customer = broker.customer(ann)
        restricted = broker.upload(customer, classification="restricted")
        pending = [broker.ask(ann, restricted)["id"] for _ in range(6)]
        internal = broker.upload(customer, title="Price list")
        assert [broker.ask(ann, internal)["status"] for _ in range(3)] == ["granted"] * 3
        over = [broker.ask(ann, internal)["id"] for _ in range(2)]

        jobs = [(approver, request_id) for request_id in pending + over for approver in approvers]
        with ThreadPoolExecutor(len(jobs)) as pool:
            answers = list(pool.map(lambda job: broker.decide(*job), jobs))
    assert {a.status_code for a in answers} <= {200, 409}
    with pg_people.runtime.db.read() as session:
        statuses = dict(session.execute(select(AccessRequest.id, AccessRequest.status)).all())
        used = dict(session.execute(select(AccessCounter.document_id, AccessCounter.used)).all())
    assert sorted(statuses[r] for r in pending) == ["denied"] * 3 + ["granted"] * 3
    assert sorted(statuses[r] for r in over) == ["denied", "granted"]  # one look beyond the quota, no more
    assert used == {restricted: 3, internal: 4}
