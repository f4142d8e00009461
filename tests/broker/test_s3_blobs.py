"""The s3 blob store against a real S3-compatible server (moto's, started here on a free port): sealed
objects with their digests in the database, an object changed behind Guard's back caught by scrub, an
unreachable bucket answered with 503, and `guard vault migrate --to s3` keeping every document readable."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
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

BUCKET = "guard-documents"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "guard-test", "AWS_SECRET_ACCESS_KEY": "guard-test-secret"}


@pytest.fixture
def s3_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "moto.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(
                    f"moto_server did not start: {(tmp_path / 'moto.log').read_text()}"
                ) from None
            time.sleep(0.1)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture
def bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> object:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GUARD_VAULT_STORE", "s3")
    monkeypatch.setenv("GUARD_S3__BUCKET", BUCKET)
    monkeypatch.setenv("GUARD_S3__ENDPOINT_URL", s3_server)
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


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
