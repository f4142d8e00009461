"""GET /content/{token}: once, for seconds, for its own grant only; watermarked; never a damaged blob."""

from __future__ import annotations

from datetime import timedelta

import jwt
from fastapi.testclient import TestClient

from guard.access.tokens import AUDIENCE
from guard.clock import FixedClock
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.broker.test_access import audit, set_user
from tests.support.blobs import replace_blob, stored_blob


def test_second_use_is_410_and_only_one_delivery_is_recorded(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann), content=b"Acme: renewal due in May.\n")
    token = broker.ask(ann, document)["content_token"]
    first = client.get(f"/content/{token}")
    assert first.status_code == 200
    assert first.content.startswith(b"Acme: renewal due in May.\n")
    second = client.get(f"/content/{token}")
    assert second.status_code == 410
    assert "already used" in second.json()["detail"]
    [delivery] = audit(runtime, "content.deliver")
    assert delivery["actor"] == "ann"
    assert delivery["document_id"] == document
    assert delivery["bytes"] == len(first.content)
    assert delivery["action"] == "view"


def test_expired_token_is_410_and_a_fresh_one_can_be_fetched(
    broker: Broker, client: TestClient, clock: FixedClock
) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    answer = broker.ask(ann, document)
    clock.advance(timedelta(seconds=61))
    expired = client.get(f"/content/{answer['content_token']}")
    assert expired.status_code == 410
    assert "expired" in expired.json()["detail"]
    fresh = client.get(f"/access-requests/{answer['id']}", headers=ann.auth).json()["content_token"]
    assert fresh
    assert fresh != answer["content_token"]
    assert client.get(f"/content/{fresh}").status_code == 200


def test_token_for_another_grant_or_forged_is_401(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann, bob = broker.person("ann"), broker.person("bob")
    customer = broker.customer(ann)
    document = broker.upload(customer, classification="public")
    mine, theirs = broker.ask(ann, document), broker.ask(bob, document)
    claims = jwt.decode(mine["content_token"], options={"verify_signature": False})
    key = runtime.content_tokens._key
    # Correctly signed, but naming Bob's grant with Ann's token id and person: not that grant's token.
    other_grant = jwt.encode({**claims, "gid": theirs["id"]}, key, algorithm="HS256")
    assert client.get(f"/content/{other_grant}").status_code == 401
    forged = jwt.encode(claims, "not-the-key-at-all-not-the-key!!", algorithm="HS256")
    assert client.get(f"/content/{forged}").status_code == 401
    wrong_audience = jwt.encode({**claims, "aud": "guard-api"}, key, algorithm="HS256")
    assert client.get(f"/content/{wrong_audience}").status_code == 401
    assert (
        client.get(f"/content/{ann.access_token}").status_code == 401
    )  # an access token is no content token
    assert client.get("/content/garbage").status_code == 401
    # Nothing was consumed by the failed attempts.
    assert client.get(f"/content/{mine['content_token']}").status_code == 200
    assert client.get(f"/content/{theirs['content_token']}").status_code == 200
    assert claims["aud"] == AUDIENCE


def test_a_person_who_can_no_longer_act_gets_nothing(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    token = broker.ask(ann, document)["content_token"]
    set_user(runtime, "ann", status="departed")
    assert client.get(f"/content/{token}").status_code == 401
    assert audit(runtime, "content.deliver") == []


TEXT_FORMATS = [
    ("notes.txt", "text/plain", b"Call Jo about pricing.\n", b"is recorded. --\n"),
    ("notes.md", "text/markdown", b"# Acme\n\nPricing *draft*.\n", b"*\n"),
    ("contacts.csv", "text/csv", b"name,phone\r\nJo,555-0100\r\n", b"is recorded.\r\n"),
]


def test_text_formats_carry_a_watermark(broker: Broker, client: TestClient) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    for filename, content_type, content, mark_at_end in TEXT_FORMATS:
        document = broker.upload(customer, filename=filename, content_type=content_type, content=content)
        answer = broker.ask(ann, document)
        delivered = client.get(f"/content/{answer['content_token']}")
        assert delivered.content.startswith(content), filename  # the original bytes are intact ...
        tail = delivered.content[len(content) :]
        assert b"ann" in tail, filename
        assert answer["id"].encode() in tail, filename
        assert b"2026-03-02T09:00:00" in tail, filename
        assert delivered.content.endswith(mark_at_end), filename
        assert answer["id"] in delivered.headers["x-guard-watermark"]
        if content_type == "text/csv":
            assert tail.startswith(b"# Copy for ann")


def test_html_gets_a_comment_and_a_visible_footer(broker: Broker, client: TestClient) -> None:
    ann = broker.person("ann")
    page = b"<html><body><h1>Acme</h1></body></html>"
    document = broker.upload(broker.customer(ann), filename="a.html", content_type="text/html", content=page)
    answer = broker.ask(ann, document)
    body = client.get(f"/content/{answer['content_token']}").content
    assert body.startswith(b"<!-- Copy for ann")
    assert b'<footer class="guard-watermark">Copy for ann' in body
    assert body.index(b"<footer") < body.index(b"</body>")


def test_pages_and_svg_never_run_in_guards_origin(broker: Broker, client: TestClient) -> None:
    ann = broker.person("ann")
    customer = broker.customer(ann)
    script = b"<script>fetch('/me')</script>"
    for filename, content_type in (
        ("a.html", "text/html; charset=utf-8"),
        ("b.svg", "image/svg+xml"),
        ("c.xhtml", "application/xhtml+xml"),
    ):
        content = b"<html><body>" + script + b"</body></html>" if "html" in content_type else script
        document = broker.upload(customer, filename=filename, content_type=content_type, content=content)
        viewed = client.get(f"/content/{broker.ask(ann, document)['content_token']}")
        assert viewed.status_code == 200
        # Even a view is a download, and a browser told to open it anyway runs nothing of it.
        assert viewed.headers["content-disposition"].startswith("attachment;"), filename
        assert viewed.headers["content-security-policy"] == "sandbox; default-src 'none'", filename
        assert viewed.headers["x-content-type-options"] == "nosniff"
    text = broker.upload(customer, filename="n.txt", content_type="text/plain", content=b"notes")
    plain = client.get(f"/content/{broker.ask(ann, text)['content_token']}")
    assert plain.headers["content-disposition"].startswith("inline;")  # a view of text stays in place


def test_binary_formats_are_delivered_as_stored_with_the_mark_in_a_header(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    pdf = b"%PDF-1.7\n\x00\x01\x02binary"
    document = broker.upload(
        broker.customer(ann), filename="deal.pdf", content_type="application/pdf", content=pdf
    )
    answer = broker.ask(ann, document)
    delivered = client.get(f"/content/{answer['content_token']}")
    assert delivered.content == pdf
    assert delivered.headers["content-type"] == "application/pdf"
    assert delivered.headers["x-guard-watermark"] == (
        f"reader=ann; time=2026-03-02T09:00:00.000000+00:00; grant={answer['id']}"
    )
    assert audit(runtime, "content.deliver")[0]["watermark"] == "header"


def test_a_flipped_byte_is_never_served_and_is_audited(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    answer = broker.ask(ann, document)
    original = stored_blob(runtime, document)
    data = bytearray(original)
    data[-20] ^= 0x01
    replace_blob(runtime, document, bytes(data))
    refused = client.get(f"/content/{answer['content_token']}")
    assert refused.status_code == 503
    assert "integrity" in refused.json()["detail"]
    assert b"Acme" not in refused.content
    [damage] = audit(runtime, "vault.damaged")
    assert (damage["document_id"], damage["request_id"]) == (document, answer["id"])
    assert audit(runtime, "content.deliver") == []
    replace_blob(
        runtime, document, original
    )  # the vault is repaired: the grant was given back, the same link works
    repaired = client.get(f"/content/{answer['content_token']}")
    assert repaired.status_code == 200
    assert repaired.content.startswith(b"Acme")
    assert len(audit(runtime, "content.deliver")) == 1


def test_content_route_is_marked_as_writing(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/content/{token}"]["get"]
    assert operation["x-writes"] is True


def test_every_use_of_the_same_token_at_once_delivers_exactly_once(
    broker: Broker, client: TestClient, runtime: Runtime
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    token = broker.ask(ann, document)["content_token"]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: client.get(f"/content/{token}").status_code, range(8)))
    assert sorted(statuses) == [200] + [410] * 7, statuses
    assert len(audit(runtime, "content.deliver")) == 1
