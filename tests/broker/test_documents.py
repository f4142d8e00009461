"""Customers and documents: who may register them, what is stored, and that bad uploads store nothing."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guard.documents.models import Document
from guard.runtime import Runtime
from guard.vault.store import CANARY_FILE
from tests.broker.helpers import Broker
from tests.broker.test_access import audit

SECRET = b"Acme Corp pays 41.50 EUR per unit; their buyer is Jo Park (+33 6 12 34 56 78).\n"


@pytest.fixture(autouse=True)
def filesystem_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about blob files on disk: the filesystem store, whatever the engine's default."""
    monkeypatch.setenv("GUARD_VAULT_STORE", "filesystem")


def files_under(folder: Path) -> list[Path]:
    """Document blobs under the vault: the vault's own canary is not a document."""
    return [p for p in folder.rglob("*") if p.is_file() and p.name != CANARY_FILE]


def document_count(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Document)) or 0)


def test_upload_stores_metadata_and_only_ciphertext_on_disk(
    broker: Broker, runtime: Runtime, client: TestClient
) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    response = broker.upload_response(
        customer, content=SECRET, title="Pricing", classification="confidential"
    )
    assert response.status_code == 201
    meta = response.json()
    assert meta["author"] == "writer"
    assert meta["custodian"] == "writer"
    assert meta["sha256"] == hashlib.sha256(SECRET).hexdigest()
    assert (meta["size"], meta["content_type"], meta["classification"]) == (
        len(SECRET),
        "text/plain",
        "confidential",
    )
    blobs = [p for p in files_under(runtime.settings.vault_path) if p.suffix == ".blob"]
    assert [p.stem for p in blobs] == [meta["id"]]
    assert stat.S_IMODE(blobs[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(runtime.settings.vault_path.stat().st_mode) == 0o700
    # Nothing Guard wrote anywhere under its home (vault, database, WAL) holds the plaintext.
    written = files_under(runtime.settings.home)
    if runtime.db.is_sqlite:
        written += files_under(Path(runtime.settings.sqlalchemy_url.removeprefix("sqlite:///")).parent)
    for path in written:
        data = path.read_bytes()
        assert b"41.50 EUR" not in data, path
        assert b"Jo Park" not in data, path
    [created] = audit(runtime, "document.create")
    assert (created["actor"], created["document_id"], created["honeytoken"]) == ("writer", meta["id"], False)
    assert client.get(f"/documents/{meta['id']}", headers=ann.auth).json()["title"] == "Pricing"


BAD_UPLOADS: list[tuple[str, dict[str, object], int]] = [
    ("wrong classification", {"classification": "secret"}, 422),
    ("unknown customer", {"customer_id": "0" * 32}, 422),
    ("no title", {"title": ""}, 422),
    ("empty file", {"content": b""}, 422),
    ("missing file", {"no_file": True}, 422),
    ("oversized", {"oversized": True}, 413),
]


def test_bad_uploads_are_4xx_and_store_nothing(broker: Broker, runtime: Runtime, client: TestClient) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    for case, change, status in BAD_UPLOADS:
        form = {"customer_id": customer, "title": "Plan", "classification": "internal"}
        form.update({k: str(v) for k, v in change.items() if k in form})
        content = change.get("content", SECRET)
        if change.get("oversized"):
            content = b"x" * (runtime.settings.http.upload_max_bytes + 1)
        files = None if change.get("no_file") else {"file": ("plan.txt", content, "text/plain")}
        response = client.post("/documents", data=form, files=files, headers=broker.author.auth)
        assert response.status_code == status, (case, response.text)
        assert response.json()["detail"], case
        assert document_count(runtime) == 0, case
        assert [p for p in files_under(runtime.settings.vault_path) if p.parent.name != ".inflight"] == []
        assert audit(runtime, "document.create") == [], case


def test_upload_limit_is_the_configured_one(broker: Broker, runtime: Runtime, client: TestClient) -> None:
    limit = runtime.settings.http.upload_max_bytes
    ann = broker.person("ann")
    customer = broker.customer(ann)
    # Well under the limit (multipart framing counts too) is accepted.
    assert broker.upload_response(customer, content=b"y" * (limit - 4096)).status_code == 201
    assert broker.upload_response(customer, content=b"y" * (limit + 1)).status_code == 413


def test_who_may_upload(broker: Broker, runtime: Runtime) -> None:
    ann, sec = broker.person("ann"), broker.person("sec", "security")
    keeper = broker.person("kim", "custodian")
    customer = broker.customer(ann)
    assert broker.upload_response(customer, by=ann).status_code == 403  # staff
    assert broker.upload_response(customer, by=keeper).status_code == 201
    assert broker.upload_response(customer, by=sec).status_code == 403  # security: honeytokens only
    assert broker.upload_response(customer, by=sec, honeytoken="true").status_code == 201
    assert broker.upload_response(customer, honeytoken="true").status_code == 403  # an author
    # A named custodian must hold the custodian role.
    assert broker.upload_response(customer, custodian="ann").status_code == 422
    assigned = broker.upload_response(customer, custodian="kim")
    assert assigned.json()["custodian"] == "kim"
    assert document_count(runtime) == 3


def test_list_filters_and_views_left(broker: Broker, client: TestClient) -> None:
    ann, bob = broker.person("ann"), broker.person("bob")
    mine, theirs = broker.customer(ann), broker.customer(bob)
    a = broker.upload(mine, classification="internal")
    b = broker.upload(mine, classification="restricted")
    c = broker.upload(theirs, classification="internal")
    broker.ask(ann, a)
    everything = client.get("/documents", headers=ann.auth).json()
    assert {d["id"]: d["views_left"] for d in everything} == {a: 2, b: 3, c: 3}
    by_customer = client.get(f"/documents?customer_id={mine}", headers=ann.auth).json()
    assert sorted(d["id"] for d in by_customer) == sorted([a, b])
    restricted = client.get("/documents?classification=restricted", headers=ann.auth).json()
    assert [d["id"] for d in restricted] == [b]
    assert client.get("/documents?classification=top", headers=ann.auth).status_code == 422
    assert client.get(f"/documents/{'f' * 32}", headers=ann.auth).status_code == 404
    assert client.get("/documents").status_code == 401


def test_customers_roles_and_portfolios(broker: Broker, client: TestClient, runtime: Runtime) -> None:
    ann, bob = broker.person("ann"), broker.person("bob")
    kim = broker.person("kim", "custodian")
    admin = broker.people.admin
    body = {"external_id": "SF-001", "name": "Acme", "owner": "ann"}
    assert client.post("/customers", json=body, headers=ann.auth).status_code == 403
    created = client.post("/customers", json=body, headers=kim.auth)
    assert created.status_code == 201
    assert created.json()["owner"] == "ann"
    assert client.post("/customers", json=body, headers=admin.auth).status_code == 409
    unknown_owner = {**body, "external_id": "SF-002", "owner": "ghost"}
    assert client.post("/customers", json=unknown_owner, headers=admin.auth).status_code == 404
    broker.customer(bob)
    assert [c["owner"] for c in client.get("/customers", headers=ann.auth).json()] == ["ann"]
    assert client.get("/customers?owner=bob", headers=ann.auth).status_code == 403
    assert len(client.get("/customers", headers=kim.auth).json()) == 2
    assert [c["owner"] for c in client.get("/customers?owner=bob", headers=kim.auth).json()] == ["bob"]
    acme = created.json()["id"]
    assert client.get(f"/customers/{acme}", headers=bob.auth).status_code == 404
    moved = client.patch(f"/customers/{acme}", json={"owner": "bob"}, headers=admin.auth)
    assert moved.json()["owner"] == "bob"
    assert client.get(f"/customers/{acme}", headers=bob.auth).status_code == 200
    assert audit(runtime, "customer.update")[0]["owner"] == {"from": "ann", "to": "bob"}
