"""Drive the HR lifecycle through the real API, and read what it recorded."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guard.audit.models import AuditEntry
from guard.hr.models import Departure, HrEvent, WatchlistEntry
from guard.runtime import Runtime
from tests.support.people import People, Person


class Hr:
    def __init__(self, client: TestClient | httpx.Client, people: People) -> None:
        self.client = client
        self.people = people
        self._officer: Person | None = None

    @property
    def officer(self) -> Person:
        """The HR officer, logged in afresh each time (tests move the clock past token lifetimes)."""
        if self._officer is None:
            self._officer = self.people.add("helen", "hr", login=False)
        return self.people.login(self._officer.username)

    def send(self, by: Person | None = None, **body: Any) -> httpx.Response:
        return self.client.post("/hr/events", json=body, headers=(by or self.officer).auth)

    def event(self, **body: Any) -> dict[str, Any]:
        response = self.send(**body)
        assert response.status_code == 202, response.text
        result: dict[str, Any] = response.json()
        return result

    def get(self, path: str, by: Person | None = None, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=(by or self.officer).auth)
        assert response.status_code == 200, response.text
        return response.json()


def audit(runtime: Runtime, action: str | None = None, actor: str | None = None) -> list[dict[str, Any]]:
    with runtime.db.read() as session:
        query = select(AuditEntry).order_by(AuditEntry.seq)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        if actor is not None:
            query = query.where(AuditEntry.actor == actor)
        return [json.loads(e.body) | {"seq": e.seq} for e in session.scalars(query)]


def counts(runtime: Runtime) -> dict[str, int]:
    """How many HR records exist: a refused event must leave all of these unchanged."""
    with runtime.db.read() as session:
        return {
            "events": session.scalar(select(func.count()).select_from(HrEvent)) or 0,
            "departures": session.scalar(select(func.count()).select_from(Departure)) or 0,
            "watchlist": session.scalar(select(func.count()).select_from(WatchlistEntry)) or 0,
            # Logins are audited too; everything else must stay as it was.
            "audit": session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action.not_like("auth.%"))
            )
            or 0,
        }


def status_of(client: TestClient | httpx.Client, people: People, username: str) -> str:
    admin = people.login(people.admin.username)  # afresh: tests move the clock past token lifetimes
    listed = client.get("/users", headers=admin.auth).json()
    return str(next(u["status"] for u in listed if u["username"] == username))
