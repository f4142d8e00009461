"""Build customers, documents and requests through the real API."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.support.people import People, Person

REASON = "preparing the quarterly review with this customer"
_numbers = itertools.count(1)


class Broker:
    def __init__(self, client: TestClient | httpx.Client, people: People) -> None:
        self.client = client
        self.people = people
        self._author: Person | None = None

    @property
    def agreement_version(self) -> str:
        response = self.client.get("/agreements/current", headers=self.people.admin.auth)
        assert response.status_code == 200, response.text
        return str(response.json()["version"])

    def accept(self, person: Person) -> None:
        response = self.client.post(
            "/me/agreements", json={"version": self.agreement_version}, headers=person.auth
        )
        assert response.status_code == 201, response.text

    def person(self, username: str, *roles: str, accept: bool = True, **fields: str) -> Person:
        person = self.people.add(username, *roles, **fields)
        if accept:
            self.accept(person)
        return person

    @property
    def author(self) -> Person:
        if self._author is None:
            self._author = self.person("writer", "author", "custodian")
        return self._author

    def customer(self, owner: Person, name: str | None = None) -> str:
        number = next(_numbers)
        body = {"external_id": f"CRM-{number}", "name": name or f"Customer {number}", "owner": owner.username}
        response = self.client.post("/customers", json=body, headers=self.people.admin.auth)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def upload_response(
        self,
        customer_id: str,
        *,
        by: Person | None = None,
        title: str = "Account plan",
        classification: str = "internal",
        content: bytes = b"Acme buys 300 units a year; contact Jo Park.\n",
        filename: str = "plan.txt",
        content_type: str = "text/plain",
        **fields: str,
    ) -> Any:
        return self.client.post(
            "/documents",
            data={"customer_id": customer_id, "title": title, "classification": classification, **fields},
            files={"file": (filename, content, content_type)},
            headers=(by or self.author).auth,
        )

    def upload(self, customer_id: str, **kwargs: Any) -> str:
        response = self.upload_response(customer_id, **kwargs)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def ask(
        self, person: Person, document_id: str, action: str = "view", reason: str = REASON, **extra: Any
    ) -> dict[str, Any]:
        response = self.ask_response(person, document_id, action, reason, **extra)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def ask_response(
        self, person: Person, document_id: str, action: str = "view", reason: str = REASON, **extra: Any
    ) -> Any:
        body = {"document_id": document_id, "action": action, "reason": reason, **extra}
        return self.client.post("/access-requests", json=body, headers=person.auth)

    def export(self, person: Person, document_ids: list[str], reason: str = REASON) -> Any:
        return self.client.post(
            "/exports", json={"document_ids": document_ids, "reason": reason}, headers=person.auth
        )

    def decide(self, person: Person, request_id: str, verb: str = "approve", note: str = "ok") -> Any:
        return self.client.post(
            f"/access-requests/{request_id}/{verb}", json={"note": note}, headers=person.auth
        )
