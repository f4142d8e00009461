"""The database blob store (the PostgreSQL default; tested here on both engines): sealed blobs beside their
document rows in one transaction, append-only, checked by scrub; and `guard vault migrate` moving every
blob from the filesystem into it without losing a document."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from guard.db import transaction
from guard.documents import service
from guard.people.service import get_user
from guard.runtime import Runtime
from guard.vault.blobs import DatabaseBlobs
from guard.vault.models import VaultBlob
from tests.broker.helpers import Broker
from tests.broker.test_documents import files_under
from tests.hr.helpers import audit
from tests.support.blobs import replace_blob, stored_blob
from tests.support.live import run_guard


@pytest.fixture(autouse=True)
def database_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARD_VAULT_STORE", "database")


def _rows(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return session.scalar(select(func.count()).select_from(VaultBlob)) or 0


def test_an_upload_keeps_its_sealed_blob_in_the_database_and_serves_it_watermarked(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    assert runtime.vault.blobs.name == "database"
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann), content=b"Acme buys 300 units a year.\n")
    assert files_under(runtime.settings.vault_path) == []  # nothing of it on this host's disk
    sealed = stored_blob(runtime, document)
    assert b"Acme" not in sealed
    copy = client.get(broker.ask(ann, document)["content_url"])
    assert copy.status_code == 200
    assert copy.text.startswith("Acme buys 300 units a year.")
    assert "Copy for ann" in copy.text


def test_a_refused_upload_leaves_no_blob_behind(broker: Broker, runtime: Runtime) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    refused = broker.upload_response(customer, title="x" * 301)
    assert refused.status_code == 422
    author = broker.author.id

    def upload_then_fail() -> None:
        # The blob is written with the document row: a unit that fails after it leaves neither.
        with transaction(runtime.db.write) as session:
            service.create_document(
                session=session,
                vault=runtime.vault,
                author=get_user(session=session, user_id=author),
                customer_id=customer,
                title="Plan",
                classification="internal",
                upload=service.Upload("plan.txt", "text/plain", b"secret plan\n"),
                max_bytes=1 << 20,
                now=runtime.clock.now(),
            )
            raise RuntimeError("the unit fails after the upload")

    with pytest.raises(RuntimeError):
        upload_then_fail()
    assert _rows(runtime) == 0


def test_stored_blobs_cannot_be_changed_or_removed(broker: Broker, runtime: Runtime) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    for statement in (
        "UPDATE vault_blobs SET blob = :junk WHERE document_id = :id",
        "DELETE FROM vault_blobs WHERE document_id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"), runtime.db.engine.begin() as connection:
            connection.execute(text(statement), {"junk": b"x", "id": document})
    assert _rows(runtime) == 1


def test_scrub_catches_a_blob_changed_behind_guards_back(
    broker: Broker, runtime: Runtime, db_url: str
) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    good, bad = broker.upload(customer), broker.upload(customer)
    clean = run_guard(runtime.settings.home, db_url, "vault", "scrub", GUARD_VAULT_STORE="database")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "checked 2 document(s): 0 problem(s)" in clean.stdout
    changed = bytearray(stored_blob(runtime, bad))
    changed[len(changed) // 2] ^= 0x01
    replace_blob(runtime, bad, bytes(changed))
    damaged = run_guard(runtime.settings.home, db_url, "vault", "scrub", GUARD_VAULT_STORE="database")
    assert damaged.returncode == 1
    assert f"DAMAGED {bad}" in damaged.stdout
    assert good not in damaged.stdout


def test_migrating_from_the_filesystem_keeps_every_document_readable_and_can_be_run_again(
    broker: Broker, client: TestClient, runtime: Runtime, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    runtime.vault.blobs = runtime.vault.files  # the documents of a deployment from before the switch
    documents = {broker.upload(customer, content=f"plan {i}\n".encode()): f"plan {i}" for i in range(5)}
    assert len([p for p in files_under(runtime.settings.vault_path) if p.suffix == ".blob"]) == 5
    home = runtime.settings.home
    moved = run_guard(home, db_url, "vault", "migrate", "--to", "database", GUARD_VAULT_STORE="filesystem")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "5 document(s): 5 moved to database, 0 already there, 0 problem(s)" in moved.stdout
    again = run_guard(home, db_url, "vault", "migrate", "--to", "database")
    assert "5 document(s): 0 moved to database, 5 already there" in again.stdout
    assert _rows(runtime) == 5
    for path in Path(runtime.settings.vault_path).glob("*.blob"):
        path.unlink()  # the old copies go: every document must now come from the database
    runtime.vault.blobs = DatabaseBlobs(runtime.db.read, runtime.vault.files)
    for document, text_of in documents.items():
        copy = client.get(broker.ask(ann, document)["content_url"])
        assert copy.status_code == 200
        assert copy.text.startswith(text_of)
    clean = run_guard(home, db_url, "vault", "scrub", GUARD_VAULT_STORE="database")
    assert clean.returncode == 0, clean.stdout
    assert "checked 5 document(s): 0 problem(s)" in clean.stdout
    [entry, _] = audit(runtime, "vault.migrate")
    assert entry["payload"]["moved"] == 5
