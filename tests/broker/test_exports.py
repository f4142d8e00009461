"""POST /exports: several documents as one watermarked zip, counted against the export quota."""

from __future__ import annotations

import io
import zipfile

from fastapi.testclient import TestClient

from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.broker.test_access import audit, set_user


def test_export_delivers_one_watermarked_archive(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    notes = broker.upload(customer, title="Notes", content=b"visit notes\n", filename="notes.txt")
    table = broker.upload(
        customer, title="Contacts", content=b"name\nJo\n", filename="contacts.csv", content_type="text/csv"
    )
    answer = broker.export(ann, [notes, table])
    assert answer.status_code == 201
    body = answer.json()
    assert (body["status"], body["action"], body["document_ids"]) == ("granted", "export", [notes, table])
    assert body["views_left"] == 2
    archive = client.get(f"/content/{body['content_token']}")
    assert archive.status_code == 200
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as bundle:
        names = bundle.namelist()
        assert "GUARD-COPY.txt" in names
        members = {n: bundle.read(n) for n in names}
    notes_copy = next(v for k, v in members.items() if k.endswith("notes.txt"))
    assert notes_copy.startswith(b"visit notes\n")
    assert body["id"].encode() in notes_copy
    csv_copy = next(v for k, v in members.items() if k.endswith("contacts.csv"))
    assert csv_copy.startswith(b"name\nJo\n# Copy for ann")
    [decision] = audit(runtime, "access.export")
    assert decision["target"] == f"export:{body['id']}"
    assert (decision["document_ids"], decision["count"], decision["decision"]) == (
        [notes, table],
        2,
        "granted",
    )
    assert decision["customer_ids"] == [customer]
    [delivery] = audit(runtime, "content.deliver")
    assert delivery["target"] == f"export:{body['id']}"
    assert delivery["document_ids"] == [notes, table]


def test_each_document_counts_against_its_export_quota(broker: Broker) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    internal = broker.upload(customer, classification="internal")  # 3 exports
    confidential = broker.upload(customer, classification="confidential")  # 1 export
    first = broker.export(ann, [internal, confidential]).json()
    assert (first["status"], first["views_left"]) == ("granted", 0)
    second = broker.export(ann, [internal, confidential]).json()
    assert (second["status"], second["rule"]) == ("pending", "quota")
    # The refused archive took nothing: the internal document still has two exports left.
    assert [broker.export(ann, [internal]).json()["views_left"] for _ in range(2)] == [1, 0]


def test_large_exports_need_approval(broker: Broker, runtime: Runtime) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    above = runtime.settings.broker.export_approval_above
    documents = [broker.upload(customer, title=f"Doc {i}") for i in range(above + 1)]
    answer = broker.export(ann, documents).json()
    assert (answer["status"], answer["rule"]) == ("pending", "export_size")
    assert broker.export(ann, documents[:above]).json()["status"] == "granted"


def test_people_on_notice_cannot_export(broker: Broker, runtime: Runtime) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    set_user(runtime, "ann", status="notice")
    answer = broker.export(ann, [document]).json()
    assert (answer["status"], answer["rule"], answer["content_token"]) == ("denied", "notice_profile", None)
    [decision] = audit(runtime, "access.export")
    assert (decision["status"], decision["decision"]) == ("notice", "denied")


def test_bad_export_requests_are_4xx(broker: Broker) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    assert broker.export(ann, []).status_code == 422
    assert broker.export(ann, [document, document]).status_code == 422
    assert broker.export(ann, [document, "e" * 32]).status_code == 404
    assert broker.export(ann, [document], reason="x").status_code == 422
