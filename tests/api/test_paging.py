"""List endpoints page with a signed cursor in X-Next-Cursor, a Link header and X-Total-Count; the pages
together are exactly the whole list, even when every row has the same timestamp."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.broker.helpers import Broker
from tests.support.people import Person


def every_page(client: TestClient, path: str, person: Person, **params: Any) -> tuple[list[str], list[int]]:
    ids: list[str] = []
    totals: list[int] = []
    query: dict[str, Any] = dict(params)
    while True:
        response = client.get(path, params=query, headers=person.auth)
        assert response.status_code == 200, response.text
        ids += [row["id"] for row in response.json()]
        totals.append(int(response.headers["X-Total-Count"]))
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            return ids, totals
        assert f"cursor={cursor}" in response.headers["Link"]
        query["cursor"] = cursor


def test_customers_documents_and_requests_page_without_gaps_or_repeats(
    client: TestClient, broker: Broker
) -> None:
    sue = broker.person("sue", "staff")
    boss = broker.person("boss", "security")
    customers = [broker.customer(sue, name=f"Customer {i:02d}") for i in range(7)]
    documents = [broker.upload(customers[i % 2]) for i in range(8)]
    for document in documents[:5]:
        broker.ask(sue, document)

    paged, totals = every_page(client, "/customers", boss, limit=3)
    assert paged == [row["id"] for row in client.get("/customers", headers=boss.auth).json()]
    assert sorted(paged) == sorted(customers)
    assert totals == [7, 7, 7]

    paged, totals = every_page(client, "/documents", sue, limit=3)
    assert paged == [row["id"] for row in client.get("/documents", headers=sue.auth).json()]
    assert sorted(paged) == sorted(documents)
    assert totals == [8, 8, 8]
    in_first, _ = every_page(client, "/documents", sue, limit=2, customer_id=customers[0])
    assert sorted(in_first) == sorted(documents[0::2])

    paged, totals = every_page(client, "/access-requests", sue, limit=2)
    assert len(paged) == len(set(paged)) == 5
    assert paged == [row["id"] for row in client.get("/access-requests", headers=sue.auth).json()]
    assert totals == [5, 5, 5]


def test_a_cursor_only_works_for_the_list_and_filters_it_came_from(
    client: TestClient, broker: Broker
) -> None:
    sue = broker.person("sue", "staff")
    customers = [broker.customer(sue) for _ in range(3)]
    for customer in customers:
        broker.upload(customer)
    cursor = client.get("/documents", params={"limit": 1}, headers=sue.auth).headers["X-Next-Cursor"]
    elsewhere = client.get("/customers", params={"cursor": cursor}, headers=sue.auth)
    assert elsewhere.status_code == 422
    refiltered = client.get(
        "/documents", params={"cursor": cursor, "customer_id": customers[0]}, headers=sue.auth
    )
    assert refiltered.status_code == 422
    assert "other filters" in refiltered.json()["detail"]
    for bad in ("garbage", cursor[:-3] + "AAA", "x" * 401):
        assert client.get("/documents", params={"cursor": bad}, headers=sue.auth).status_code == 422
    both = client.get("/documents", params={"cursor": cursor, "offset": 1}, headers=sue.auth)
    assert both.status_code == 422
    assert client.get("/documents", params={"limit": 0}, headers=sue.auth).status_code == 422
