"""The s3 blob store against a real S3-compatible server (moto's, started here on a free port): sealed
objects with their digests in the database, an object changed behind Guard's back caught by scrub, an
unreachable bucket answered with 503, and `guard vault migrate --to s3` keeping every document readable."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guard.runtime import Runtime
from guard.vault.models import VaultObjectDigest
from guard.vault.stores import open_store
from tests.broker.helpers import Broker
from tests.broker.test_documents import files_under
from tests.hr.helpers import audit
from tests.support.live import free_port, run_guard
from tests.support.s3 import S3_BUCKET

BUCKET = S3_BUCKET


@pytest.fixture(autouse=True)
def s3_vault(bucket: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARD_VAULT_STORE", "s3")


def objects(client: object) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])  # type: ignore[attr-defined]
    return {
        item["Key"]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()  # type: ignore[attr-defined]
        for item in listed
    }


def digests(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return session.scalar(select(func.count()).select_from(VaultObjectDigest)) or 0


def test_an_upload_becomes_a_sealed_object_and_is_served_watermarked(
    bucket: object, broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    assert runtime.vault.blobs.name == "s3"
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann), content=b"Acme buys 300 units a year.\n")
    [(key, sealed)] = objects(bucket).items()
    assert key == f"guard/vault/{document}.blob"
    assert b"Acme" not in sealed  # sealed before it left Guard
    assert digests(runtime) == 1
    assert files_under(runtime.settings.vault_path) == []
    copy = client.get(broker.ask(ann, document)["content_url"])
    assert copy.status_code == 200
    assert copy.text.startswith("Acme buys 300 units a year.")
    assert "Copy for ann" in copy.text


def test_scrub_catches_an_object_changed_behind_guards_back(
    bucket: object, broker: Broker, runtime: Runtime, db_url: str
) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    good, bad = broker.upload(customer), broker.upload(customer)
    home = runtime.settings.home
    clean = run_guard(home, db_url, "vault", "scrub")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "checked 2 document(s): 0 problem(s)" in clean.stdout
    other = objects(bucket)[f"guard/vault/{good}.blob"]
    bucket.put_object(Bucket=BUCKET, Key=f"guard/vault/{bad}.blob", Body=other)  # type: ignore[attr-defined]
    damaged = run_guard(home, db_url, "vault", "scrub")
    assert damaged.returncode == 1
    assert f"DAMAGED {bad}: the stored object changed since it was written" in damaged.stdout
    assert good not in damaged.stdout
    [_, last] = audit(runtime, "vault.scrub")
    assert [p["document_id"] for p in last["payload"]["problems"]] == [bad]


def test_an_unreachable_bucket_is_a_503_and_nothing_is_written(
    bucket: object, broker: Broker, client: TestClient, runtime: Runtime, s3_server: str
) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    document = broker.upload(customer)
    runtime.vault.blobs = open_store(
        "s3",
        files=runtime.vault.files,
        read=runtime.db.read,
        s3=runtime.settings.s3.model_copy(update={"endpoint_url": f"http://127.0.0.1:{free_port()}"}),
    )
    refused = broker.upload_response(customer, title="Another plan")
    assert refused.status_code == 503
    assert "S3 bucket cannot be reached" in refused.json()["detail"]
    assert digests(runtime) == 1  # the refused upload left no row
    answer = broker.ask(ann, document)
    assert client.get(answer["content_url"]).status_code == 503


def test_migrating_from_the_filesystem_to_s3_keeps_every_document_readable(
    bucket: object, broker: Broker, client: TestClient, runtime: Runtime, db_url: str
) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    in_use = runtime.vault.blobs
    runtime.vault.blobs = runtime.vault.files  # documents of a deployment from before the switch
    documents = {broker.upload(customer, content=f"plan {i}\n".encode()): f"plan {i}" for i in range(4)}
    home = runtime.settings.home
    moved = run_guard(home, db_url, "vault", "migrate", "--to", "s3", GUARD_VAULT_STORE="filesystem")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "4 document(s): 4 moved to s3, 0 already there, 0 problem(s)" in moved.stdout
    again = run_guard(home, db_url, "vault", "migrate", "--to", "s3", GUARD_VAULT_STORE="filesystem")
    assert "4 document(s): 0 moved to s3, 4 already there" in again.stdout
    for path in Path(runtime.settings.vault_path).glob("*.blob"):
        path.unlink()  # the old copies go: every document must now come from the bucket
    runtime.vault.blobs = in_use
    for document, text_of in documents.items():
        copy = client.get(broker.ask(ann, document)["content_url"])
        assert copy.status_code == 200
        assert copy.text.startswith(text_of)
    clean = run_guard(home, db_url, "vault", "scrub")
    assert clean.returncode == 0, clean.stdout
    assert "checked 4 document(s): 0 problem(s)" in clean.stdout
