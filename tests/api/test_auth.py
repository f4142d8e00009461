"""Login, refresh rotation, reuse detection, logout, and every way a forged or stale token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from guard.clock import FixedClock
from guard.runtime import Runtime
from tests.broker.test_access import audit
from tests.support.people import PASSWORD, People


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_for(runtime: Runtime, user_id: str, **changes: object) -> dict[str, object]:
    now = int(runtime.clock.now().timestamp())
    claims: dict[str, object] = {
        "sub": user_id,
        "iat": now,
        "exp": now + 600,
        "aud": runtime.settings.auth.audience,
        "iss": runtime.settings.auth.issuer,
        "jti": "test-jti",
        "ver": 1,
    }
    claims.update(changes)
    return claims


def signed(runtime: Runtime, claims: dict[str, object], kid: str | None = None) -> str:
    key = runtime.keyring.jwt_signing
    return jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": kid or key.kid})


def test_login_returns_a_working_token_pair(client: TestClient, people: People) -> None:
    people.add("ann")
    response = client.post("/auth/login", json={"username": "ann", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 600
    me = client.get("/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == "ann"
    assert set(me.json()) >= {"id", "username", "display_name", "email", "department", "roles", "status"}


def test_wrong_password_and_unknown_user_are_401_and_audited(client: TestClient, people: People) -> None:
    people.add("ann")
    assert (
        client.post("/auth/login", json={"username": "ann", "password": "nope-nope-nope"}).status_code == 401
    )
    assert client.post("/auth/login", json={"username": "ghost", "password": "whatever"}).status_code == 401
    from sqlalchemy import select

    from guard.audit.models import AuditEntry

    with people.runtime.db.read() as session:
        failed = session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.login_failed")).all()
    assert [e.actor for e in failed] == ["ann", "ghost"]
    assert all('"client":"testclient"' in e.body for e in failed)


def test_refresh_rotates_and_the_old_refresh_token_stops_working(client: TestClient, people: People) -> None:
    ann = people.add("ann")
    first = client.post("/auth/refresh", json={"refresh_token": ann.refresh_token})
    assert first.status_code == 200
    new_pair = first.json()
    assert new_pair["refresh_token"] != ann.refresh_token
    assert client.get("/me", headers=bearer(new_pair["access_token"])).status_code == 200
    second = client.post("/auth/refresh", json={"refresh_token": new_pair["refresh_token"]})
    assert second.status_code == 200


def test_reusing_a_refresh_token_revokes_the_whole_family(client: TestClient, people: People) -> None:
    ann = people.add("ann")
    rotated = client.post("/auth/refresh", json={"refresh_token": ann.refresh_token}).json()
    # The old token comes back (stolen copy): refused, and the legitimate new one dies with it.
    reuse = client.post("/auth/refresh", json={"refresh_token": ann.refresh_token})
    assert reuse.status_code == 401
    assert "already used" in reuse.json()["detail"]
    assert client.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}).status_code == 401
    # Every access token of that session ends too, the first one and the one the rotation issued.
    for access_token in (ann.access_token, rotated["access_token"]):
        refused = client.get("/me", headers=bearer(access_token))
        assert refused.status_code == 401
        assert "session" in refused.json()["detail"]
    # A separate login (another family) is unaffected.
    other = people.login("ann")
    assert client.post("/auth/refresh", json={"refresh_token": other.refresh_token}).status_code == 200
    assert client.get("/me", headers=other.auth).status_code == 200


def test_logout_ends_the_access_token_and_its_refresh_token(client: TestClient, people: People) -> None:
    ann = people.add("ann")
    assert client.post("/auth/logout", headers=ann.auth).status_code == 204
    assert client.get("/me", headers=ann.auth).status_code == 401
    assert client.post("/auth/refresh", json={"refresh_token": ann.refresh_token}).status_code == 401


def test_logout_ends_every_access_token_of_the_session(client: TestClient, people: People) -> None:
    ann = people.add("ann")
    rotated = client.post("/auth/refresh", json={"refresh_token": ann.refresh_token}).json()
    elsewhere = people.login("ann")  # another session of the same person
    assert client.post("/auth/logout", headers=bearer(rotated["access_token"])).status_code == 204
    # The access token from before the rotation belongs to the same session: it ends with it.
    assert client.get("/me", headers=ann.auth).status_code == 401
    assert client.get("/me", headers=elsewhere.auth).status_code == 200


def test_logout_everywhere_ends_every_session_at_once(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    ann = people.add("ann")
    phone = people.login("ann")
    assert client.post("/auth/logout-all", headers=ann.auth).status_code == 204
    for session in (ann, phone):
        assert client.get("/me", headers=session.auth).status_code == 401
        assert client.post("/auth/refresh", json={"refresh_token": session.refresh_token}).status_code == 401
    assert people.login("ann").access_token  # a new login works
    (entry,) = audit(runtime, "auth.logout_all")
    assert entry["actor"] == "ann"


def test_expired_token_is_refused(client: TestClient, people: People, clock: FixedClock) -> None:
    ann = people.add("ann")
    clock.advance(timedelta(minutes=11))
    response = client.get("/me", headers=ann.auth)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_within_leeway_is_accepted(client: TestClient, people: People, clock: FixedClock) -> None:
    ann = people.add("ann")
    clock.advance(timedelta(minutes=10, seconds=5))
    assert client.get("/me", headers=ann.auth).status_code == 200


@pytest.mark.parametrize(
    "change",
    [{"aud": "someone-else"}, {"iss": "evil-issuer"}],
    ids=["wrong-aud", "wrong-iss"],
)
def test_wrong_audience_or_issuer_is_refused(
    client: TestClient, people: People, runtime: Runtime, change: dict[str, str]
) -> None:
    ann = people.add("ann")
    good = signed(runtime, claims_for(runtime, ann.id))
    assert client.get("/me", headers=bearer(good)).status_code == 200
    assert (
        client.get("/me", headers=bearer(signed(runtime, claims_for(runtime, ann.id, **change)))).status_code
        == 401
    )


@pytest.mark.parametrize("missing", ["sub", "iat", "exp", "aud", "iss", "jti", "ver"])
def test_token_missing_a_required_claim_is_refused(
    client: TestClient, people: People, runtime: Runtime, missing: str
) -> None:
    ann = people.add("ann")
    claims = claims_for(runtime, ann.id)
    del claims[missing]
    assert client.get("/me", headers=bearer(signed(runtime, claims))).status_code == 401


def test_alg_none_is_refused(client: TestClient, people: People, runtime: Runtime) -> None:
    ann = people.add("ann")
    header = {"alg": "none", "typ": "JWT", "kid": runtime.keyring.jwt_signing.kid}
    token = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims_for(runtime, ann.id)).encode())}."
    assert client.get("/me", headers=bearer(token)).status_code == 401


def test_hs256_signed_with_the_public_key_is_refused(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    ann = people.add("ann")
    kid = runtime.keyring.jwt_signing.kid
    public_pem = runtime.keyring.jwt_public[kid].public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': kid}).encode())}."
        f"{b64(json.dumps(claims_for(runtime, ann.id)).encode())}"
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(signature)}"
    response = client.get("/me", headers=bearer(token))
    assert response.status_code == 401


@pytest.mark.parametrize("kid", ["jwt-20260101-deadbeef", "../../keys/jwt/ACTIVE", "/etc/passwd", ""])
def test_unknown_or_path_like_kid_is_refused(
    client: TestClient, people: People, runtime: Runtime, kid: str
) -> None:
    ann = people.add("ann")
    forger = Ed25519PrivateKey.generate()
    token = jwt.encode(claims_for(runtime, ann.id), forger, algorithm="EdDSA", headers={"kid": kid})
    assert client.get("/me", headers=bearer(token)).status_code == 401
    # Even our own key is refused when the kid does not name it.
    own = jwt.encode(
        claims_for(runtime, ann.id),
        runtime.keyring.jwt_signing.private,
        algorithm="EdDSA",
        headers={"kid": kid},
    )
    assert client.get("/me", headers=bearer(own)).status_code == 401


def test_payload_edited_after_signing_is_refused(
    client: TestClient, people: People, runtime: Runtime
) -> None:
    ann = people.add("ann")
    people.add("bob", "admin")
    header, _payload, signature = ann.access_token.split(".")
    claims = jwt.decode(ann.access_token, options={"verify_signature": False})
    claims["sub"] = people.admin.id
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert client.get("/me", headers=bearer(forged)).status_code == 401


def test_token_with_a_stale_version_is_refused(client: TestClient, people: People, runtime: Runtime) -> None:
    ann = people.add("ann")
    assert (
        client.get("/me", headers=bearer(signed(runtime, claims_for(runtime, ann.id, ver=1)))).status_code
        == 200
    )
    stale = signed(runtime, claims_for(runtime, ann.id, ver=0))
    assert client.get("/me", headers=bearer(stale)).status_code == 401


def test_suspended_person_is_refused_on_the_next_request(client: TestClient, people: People) -> None:
    ann = people.add("ann")
    assert client.get("/me", headers=ann.auth).status_code == 200
    patch = client.patch(f"/users/{ann.id}", json={"status": "suspended"}, headers=people.admin.auth)
    assert patch.status_code == 200
    assert client.get("/me", headers=ann.auth).status_code == 401
    assert client.post("/auth/refresh", json={"refresh_token": ann.refresh_token}).status_code == 401
    assert client.post("/auth/login", json={"username": "ann", "password": PASSWORD}).status_code == 401


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer not.a.token", "Basic YWRtaW46YWRtaW4=", "ApiKey gk_nope"]
)
def test_missing_or_garbage_credentials_are_401(client: TestClient, header: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"]
