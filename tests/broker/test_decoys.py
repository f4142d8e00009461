"""A honeytoken reads like any document to everyone but security and admins: its author and custodian
are ordinary cover persons, and no answer a staff reader gets tells it apart from a real document."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from guard.audit.models import AuditEntry
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.broker.test_access import audit, set_user
from tests.support.people import Person

TITLE = "Price list 2026"
CONTENT = b"Acme pays 41.50 a unit from March; do not share outside sales.\n"
# What differs between two answers about two documents (or two requests) and says nothing about either.
IDENTITIES = {"id", "document_id", "document_ids", "content_token", "content_url"}


class Pair:
    """One customer (owned by Olive) with a decoy planted by security and a real document Olive wrote,
    with the same title and bytes, so the two answers of every endpoint must match field by field."""

    def __init__(self, broker: Broker, **cover: str) -> None:
        self.broker = broker
        self.sec = broker.person("sec", "security")
        self.olive = broker.person("olive", "staff", "author", "custodian")
        self.sam = broker.person("sam")  # staff, outside the portfolio
        self.customer = broker.customer(self.olive, name="Acme")
        self.plain = broker.upload(self.customer, by=self.olive, title=TITLE, content=CONTENT)
        self.decoy = broker.upload(
            self.customer, by=self.sec, title=TITLE, content=CONTENT, honeytoken="true", **cover
        )


def same_but_ids(plain: Any, decoy: Any, *, secret: str, path: str = "") -> None:
    """Field by field: the same keys, the same values except identities, and nothing naming `secret`."""
    if isinstance(plain, dict):
        assert isinstance(decoy, dict), path
        assert set(plain) == set(decoy), path
        assert plain.get("honeytoken") is None, path
        assert decoy.get("honeytoken") is None, path
        for key in plain:
            if key in IDENTITIES:
                assert secret not in str(decoy[key]), f"{path}.{key}"
                continue
            same_but_ids(plain[key], decoy[key], secret=secret, path=f"{path}.{key}")
    elif isinstance(plain, list):
        assert isinstance(decoy, list), path
        assert len(plain) == len(decoy), path
        for n, (a, b) in enumerate(zip(plain, decoy, strict=True)):
            same_but_ids(a, b, secret=secret, path=f"{path}[{n}]")
    else:
        assert plain == decoy, f"{path}: {plain!r} != {decoy!r}"


def unmark(data: bytes, doc_id: str, grant_id: str) -> bytes:
    """The bytes with the ids of one document and one grant (and the short id in names) blanked out."""
    for value, mark in ((doc_id, b"<doc>"), (doc_id[:8], b"<doc>"), (grant_id, b"<grant>")):
        data = data.replace(value.encode(), mark)
    return data


def get(client: TestClient, path: str, person: Person, **params: Any) -> Any:
    response = client.get(path, params=params, headers=person.auth)
    assert response.status_code == 200, response.text
    return response.json()


def audit_count(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return len(list(session.scalars(select(AuditEntry.seq))))


def test_a_staff_reader_cannot_tell_a_decoy_from_a_document_through_any_answer(
    broker: Broker, client: TestClient
) -> None:
    pair = Pair(broker)
    ids = (pair.plain, pair.decoy)
    for reader in (pair.olive, pair.sam):
        plain, decoy = (get(client, f"/documents/{d}", reader) for d in ids)
        assert (decoy["author"], decoy["custodian"]) == ("olive", "olive")  # the customer's owner
        same_but_ids(plain, decoy, secret="sec")

        for params in ({}, {"customer_id": pair.customer}, {"classification": "internal"}):
            listed = {d["id"]: d for d in get(client, "/documents", reader, **params)}
            same_but_ids(listed[pair.plain], listed[pair.decoy], secret="sec")

    # Olive owns the customer and, as far as she can see, keeps both: both grant alike.
    plain, decoy = (broker.ask(pair.olive, d) for d in ids)
    assert (plain["status"], decoy["status"]) == ("granted", "granted")
    same_but_ids(plain, decoy, secret="sec")
    # Sam is outside the portfolio: whatever the policy says, it says it of both.
    same_but_ids(*(broker.ask(pair.sam, d) for d in ids), secret="sec")
    for reader in (pair.olive, pair.sam):
        mine = {r["document_id"]: r for r in get(client, "/access-requests", reader, mine="true")}
        same_but_ids(mine[pair.plain], mine[pair.decoy], secret="sec")
    # Asking again for a grant's answer issues a fresh content link (the earlier one stops working).
    plain, decoy = (get(client, f"/access-requests/{a['id']}", pair.olive) for a in (plain, decoy))
    same_but_ids(plain, decoy, secret="sec")

    # The bytes and their headers: alike but for the grant they carry.
    bodies = []
    for answer in (plain, decoy):
        response = client.get(answer["content_url"])
        assert response.status_code == 200, response.text
        headers = {k: v.replace(answer["id"], "<grant>") for k, v in response.headers.items()}
        bodies.append((headers, response.content.replace(answer["id"].encode(), b"<grant>")))
    assert bodies[0] == bodies[1]
    assert b"sec" not in bodies[1][1]

    # An export of each: the same answer, and archives alike but for the ids.
    exports = [broker.export(pair.olive, [d]) for d in ids]
    assert [e.status_code for e in exports] == [201, 201]
    plain_export, decoy_export = (e.json() for e in exports)
    same_but_ids(plain_export, decoy_export, secret="sec")
    assert plain_export["status"] == "granted"
    archives = []
    for answer, doc_id in ((plain_export, pair.plain), (decoy_export, pair.decoy)):
        response = client.get(answer["content_url"])
        assert response.status_code == 200, response.text
        headers = {k: v.replace(answer["id"], "<grant>") for k, v in response.headers.items()}
        headers.pop("content-length")  # the zip's timestamps and ids may differ in size
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            members = {
                unmark(name.encode(), doc_id, answer["id"]): unmark(archive.read(name), doc_id, answer["id"])
                for name in archive.namelist()
            }
        archives.append((headers, members))
    assert archives[0] == archives[1]
    assert not any(b"sec" in data for data in archives[1][1].values())


def test_security_and_admins_see_the_real_author_and_the_flag(broker: Broker, client: TestClient) -> None:
    pair = Pair(broker)
    for insider in (pair.sec, broker.people.admin):
        decoy = get(client, f"/documents/{pair.decoy}", insider)
        assert (decoy["author"], decoy["custodian"], decoy["honeytoken"]) == ("sec", "sec", True)
        plain = get(client, f"/documents/{pair.plain}", insider)
        assert (plain["author"], plain["custodian"], plain["honeytoken"]) == ("olive", "olive", False)


def test_named_cover_persons_stand_as_author_and_custodian(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    carl = broker.person("carl", "custodian")
    pair = Pair(broker, cover_author=broker.author.username, cover_custodian="carl@example.com")
    decoy = get(client, f"/documents/{pair.decoy}", pair.sam)
    assert (decoy["author"], decoy["custodian"], decoy["honeytoken"]) == ("writer", "carl", None)
    created = audit(runtime, "document.create")
    assert [(p["honeytoken"], p.get("cover_author"), p.get("cover_custodian")) for p in created] == [
        (False, None, None),
        (True, "writer", "carl"),
    ]
    # Carl sees himself as its custodian, and the broker treats him as one: like a document he keeps.
    kept = broker.upload(pair.customer, title=TITLE, content=CONTENT, custodian="carl")
    same_but_ids(
        get(client, f"/documents/{kept}", carl), get(client, f"/documents/{pair.decoy}", carl), secret="sec"
    )
    same_but_ids(broker.ask(carl, kept), broker.ask(carl, pair.decoy), secret="sec")


def test_cover_persons_are_checked(broker: Broker, client: TestClient, runtime: Runtime) -> None:
    pair = Pair(broker)
    broker.person("gone")
    set_user(runtime, "gone", status="departed")
    before = audit_count(runtime)
    refused = [
        broker.upload_response(pair.customer, by=pair.olive, cover_author="sam"),  # not a honeytoken
        broker.upload_response(pair.customer, by=pair.sec, honeytoken="true", cover_custodian="nobody"),
        broker.upload_response(pair.customer, by=pair.sec, honeytoken="true", cover_author="gone"),
    ]
    assert [r.status_code for r in refused] == [422, 404, 422]
    assert "gone is departed" in refused[2].json()["detail"]
    assert audit_count(runtime) == before
    assert len(get(client, "/documents", pair.sec)) == 2
