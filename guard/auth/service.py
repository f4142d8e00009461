"""Login, refresh rotation with reuse detection, logout, and authenticating each request.

Authenticating a request has two halves. `bearer_credential` / `api_key_credential` check what needs no
database (the token's signature, claims and expiry), so a request with a bad credential is refused before
it takes a connection, a thread or a place in a write batch. `authenticate` then reads the person's status
and token_version in the request's own transaction, so a suspension, a termination or a logout is
effective on the next request in every worker process, and in the same transaction as the decision.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from guard.audit.log import capped, record
from guard.auth.models import EndedTokenFamily, RefreshToken, RevokedAccessToken
from guard.auth.passwords import Passwords
from guard.auth.throttle import (
    Counted,
    ThrottlePolicy,
    check_under_lock,
    clear,
    count_failure,
    keys_for,
    refresh_key,
)
from guard.auth.tokens import UNTRUSTED_KEY, AccessClaims, TokenCodec
from guard.db import new_id
from guard.errors import Unauthenticated
from guard.keys.models import SigningKeyRecord
from guard.people.models import ApiKey, User
from guard.people.service import hash_secret
from guard.people.sessions import revoke_sessions
from guard.prepared import PreparedStatement
from guard.types import WORKING_STATUSES

REFRESH_PREFIX = "rt_"
NOT_ACTIVE = "the account behind these credentials is not active"
USER_AGENT_LIMIT = 512  # a header anyone can send: what the log keeps of it


@dataclass(frozen=True)
class Principal:
    """Who is acting on this request."""

    user_id: str
    username: str
    roles: frozenset[str]
    status: str
    via: str  # "token" or "api_key"
    jti: str | None = None
    family_id: str | None = None
    token_expires: datetime | None = None
    api_key_id: str | None = None
    key_last_used: datetime | None = None  # as stored before this request
    key_created_by: str | None = None
    token_via: str | None = None  # "password" or "refresh": how the access token was obtained
    client: str | None = None  # the address the request came from
    must_change_password: bool = False  # after an admin's reset: nothing but choosing a new one

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def credential(self) -> dict[str, str | None]:
        """What every audit entry of this request says about how the actor authenticated."""
        if self.via == "api_key":
            return {
                "method": "api_key",
                "key": self.api_key_id,
                "key_created_by": self.key_created_by,
                "client": self.client,
            }
        return {"method": self.token_via or "token", "session": self.family_id, "client": self.client}


@dataclass(frozen=True)
class Credential:
    """A request's credential, checked as far as it can be without the database: the claims of an access
    token whose signature and expiry hold, or the hash of an API key."""

    claims: AccessClaims | None = None
    key_hash: str | None = None


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    password_change_required: bool = False


@dataclass(frozen=True)
class ClientInfo:
    address: str | None
    user_agent: str | None

    def as_payload(self) -> dict[str, str | None]:
        return {"client": self.address, "user_agent": capped(self.user_agent, limit=USER_AGENT_LIMIT)}


def _new_refresh(
    *, session: Session, user: User, family_id: str, now: datetime, lifetime: timedelta
) -> tuple[RefreshToken, str]:
    plaintext = REFRESH_PREFIX + secrets.token_urlsafe(32)
    token = RefreshToken(
        user_id=user.id,
        family_id=family_id,
        token_hash=hash_secret(plaintext),
        issued_at=now,
        expires_at=now + lifetime,
    )
    session.add(token)
    return token, plaintext


def start_session(
    *,
    session: Session,
    codec: TokenCodec,
    user: User,
    family_id: str,
    via: str,
    now: datetime,
    refresh_lifetime: timedelta,
) -> TokenPair:
    _, refresh_plain = _new_refresh(
        session=session, user=user, family_id=family_id, now=now, lifetime=refresh_lifetime
    )
    access, _ = codec.issue(
        user_id=user.id, token_version=user.token_version, family_id=family_id, via=via, now=now
    )
    return TokenPair(access, refresh_plain, int(codec.lifetime.total_seconds()), user.must_change_password)


def check_password(*, session: Session, passwords: Passwords, username: str, password: str) -> bool:
    """Argon2 is slow on purpose: run this in a read transaction, before the login's write transaction,
    so no write lock is held while hashing."""
    password_hash = session.scalars(select(User.password_hash).where(User.username == username)).first()
    return passwords.verify(password_hash, password)


def login(
    *,
    session: Session,
    codec: TokenCodec,
    username: str,
    password_ok: bool,
    client: ClientInfo,
    throttle: ThrottlePolicy,
    now: datetime,
    refresh_lifetime: timedelta,
) -> TokenPair:
    """Start a session for `username` once `check_password` said yes. Failures are throttled per account
    and address (guard.auth.throttle): the log gets the first failure of a burst and each lockout."""
    rows = check_under_lock(
        session=session, keys=keys_for(username, client.address), policy=throttle, now=now
    )
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not password_ok or not can_act(user, now):
        reason = (
            "unknown user"
            if user is None
            else ("bad password" if not password_ok else f"status {user.status}")
        )
        _record_failure(
            session=session,
            counted=count_failure(rows=rows, policy=throttle, now=now),
            actor=username[:200],
            action="auth.login_failed",
            target=f"user:{username[:64]}",
            payload={"reason": reason, **client.as_payload()},
            now=now,
        )
        raise Unauthenticated("wrong username or password, or the account is not active", keep_changes=True)
    failed_before = clear(rows=rows, policy=throttle, now=now)
    pair = start_session(
        session=session,
        codec=codec,
        user=user,
        family_id=new_id(),
        via="password",
        now=now,
        refresh_lifetime=refresh_lifetime,
    )
    record(
        session=session,
        actor=user.username,
        action="auth.login",
        target=f"user:{user.username}",
        payload={**client.as_payload(), **({"failed_before": failed_before} if failed_before else {})},
        ts=now,
    )
    return pair


def _record_failure(
    *,
    session: Session,
    counted: Counted | None,
    actor: str,
    action: str,
    target: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """One entry when a burst of failures starts (or for every failure nothing counts) and one per lockout:
    a stranger's guesses cannot fill the log."""
    if counted is None or counted.burst_started:
        burst = {"burst": "started"} if counted is not None else {}
        record(
            session=session, actor=actor, action=action, target=target, payload={**payload, **burst}, ts=now
        )
    for locked in counted.locked if counted is not None else []:
        record(
            session=session,
            actor=actor,
            action="auth.lockout",
            target=locked.key,
            payload={
                "failures": locked.failures,
                "until": locked.locked_until.isoformat() if locked.locked_until else None,
                "after": action,
                **payload,
            },
            ts=now,
        )


def _revoke_family(*, session: Session, family_id: str, now: datetime) -> None:
    """End a session: its refresh tokens and every access token issued in it."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(EndedTokenFamily).values(family_id=family_id, ended_at=now).on_conflict_do_nothing()
    )


def refresh(
    *,
    session: Session,
    codec: TokenCodec,
    refresh_token: str,
    client: ClientInfo,
    throttle: ThrottlePolicy,
    now: datetime,
    refresh_lifetime: timedelta,
) -> TokenPair:
    # Lock the row so two concurrent uses of one token cannot both rotate it.
    stored = session.scalars(
        select(RefreshToken).where(RefreshToken.token_hash == hash_secret(refresh_token)).with_for_update()
    ).first()
    if stored is None:
        # Anyone can send made-up tokens: they are throttled per address and logged once per burst.
        keys = [refresh_key(client.address)] if client.address else []
        rows = check_under_lock(session=session, keys=keys, policy=throttle, now=now)
        _record_failure(
            session=session,
            counted=count_failure(rows=rows, policy=throttle, now=now) if rows else None,
            actor="unknown",
            action="auth.refresh_failed",
            target="refresh-token",
            payload={"reason": "unknown token", **client.as_payload()},
            now=now,
        )
        raise Unauthenticated("unknown refresh token; log in again", keep_changes=True)
    user = session.get(User, stored.user_id)
    assert user is not None  # foreign key
    if stored.used_at is not None:
        # A replaced token came back: someone holds a copy. Kill the whole family.
        _revoke_family(session=session, family_id=stored.family_id, now=now)
        record(
            session=session,
            actor=user.username,
            action="auth.refresh_reuse",
            target=f"user:{user.username}",
            payload={"family": stored.family_id, **client.as_payload()},
            ts=now,
        )
        raise Unauthenticated(
            "this refresh token was already used; every session it belongs to has been ended",
            keep_changes=True,
        )
    if stored.revoked_at is not None or stored.expires_at <= now or not can_act(user, now):
        reason = (
            "revoked"
            if stored.revoked_at is not None
            else ("expired" if stored.expires_at <= now else f"account not active ({user.status})")
        )
        record(
            session=session,
            actor=user.username,
            action="auth.refresh_failed",
            target=f"user:{user.username}",
            payload={"reason": reason, "family": stored.family_id, **client.as_payload()},
            ts=now,
        )
        raise Unauthenticated("the refresh token is no longer valid; log in again", keep_changes=True)
    stored.used_at = now
    pair = start_session(
        session=session,
        codec=codec,
        user=user,
        family_id=stored.family_id,
        via="refresh",
        now=now,
        refresh_lifetime=refresh_lifetime,
    )
    record(
        session=session,
        actor=user.username,
        action="auth.refresh",
        target=f"user:{user.username}",
        payload={"family": stored.family_id, **client.as_payload()},
        ts=now,
    )
    return pair


def logout(*, session: Session, principal: Principal, now: datetime) -> None:
    if principal.jti and principal.token_expires:
        session.add(RevokedAccessToken(jti=principal.jti, expires_at=principal.token_expires))
    if principal.family_id:
        _revoke_family(session=session, family_id=principal.family_id, now=now)
    record(
        session=session,
        actor=principal.username,
        action="auth.logout",
        target=f"user:{principal.username}",
        payload={"family": principal.family_id},
        ts=now,
    )


def logout_everywhere(*, session: Session, principal: Principal, now: datetime) -> None:
    """End every session of the person, on every device: all their access and refresh tokens stop working
    on their next use, in every worker (API keys are managed separately)."""
    user = session.get(User, principal.user_id)
    if user is None:
        raise Unauthenticated(NOT_ACTIVE)
    revoke_sessions(session=session, user=user, now=now)
    record(
        session=session,
        actor=principal.username,
        action="auth.logout_all",
        target=f"user:{principal.username}",
        payload={},
        ts=now,
    )


def can_act(user: User, now: datetime) -> bool:
    """Working status, and not past the end of a reported last working day."""
    return is_active(status=user.status, access_ends_at=user.access_ends_at, now=now)


def is_active(*, status: str, access_ends_at: datetime | None, now: datetime) -> bool:
    return status in WORKING_STATUSES and (access_ends_at is None or now < access_ends_at)


def _principal(user: User | None, *, now: datetime, via: str) -> Principal:
    if user is None or not can_act(user, now):
        raise Unauthenticated(NOT_ACTIVE)
    return Principal(
        user_id=user.id,
        username=user.username,
        roles=frozenset(user.roles),
        status=user.status,
        via=via,
        must_change_password=user.must_change_password,
    )


# Every request runs this: the columns it needs, in a statement compiled once and run on the driver's
# cursor, cost a fraction of loading a User entity into the session.
_BEARER_LOOKUP = PreparedStatement(
    select(
        User.id,
        User.username,
        User.roles,
        User.status,
        User.access_ends_at,
        User.token_version,
        User.must_change_password,
        RevokedAccessToken.jti.label("revoked_jti"),
        EndedTokenFamily.family_id.label("ended_family"),
        SigningKeyRecord.id.label("key_known"),
        SigningKeyRecord.retired_at.label("key_retired"),
    )
    .select_from(User)
    .outerjoin(RevokedAccessToken, RevokedAccessToken.jti == bindparam("jti"))
    .outerjoin(EndedTokenFamily, EndedTokenFamily.family_id == bindparam("fam"))
    # The signing key as the database has it now: a key retired on any host refuses its tokens here at once.
    .outerjoin(SigningKeyRecord, SigningKeyRecord.kid == bindparam("kid"))
    .where(User.id == bindparam("sub")),
    what="checking an access token",
)


def bearer_credential(*, codec: TokenCodec, token: str, now: datetime) -> Credential:
    """Signature, claims and expiry of an access token; the database is checked by `authenticate`."""
    return Credential(claims=codec.decode(token, now=now))


def api_key_credential(*, key: str) -> Credential:
    return Credential(key_hash=hash_secret(key))


def authenticate(*, session: Session, credential: Credential, now: datetime) -> Principal:
    """Who is acting, checked against the database (status, token version, revocations, the key)."""
    if credential.claims is not None:
        return _bearer_principal(session=session, claims=credential.claims, now=now)
    if credential.key_hash is not None:
        return _api_key_principal(session=session, key_hash=credential.key_hash, now=now)
    raise Unauthenticated("missing credentials")


def _bearer_principal(*, session: Session, claims: AccessClaims, now: datetime) -> Principal:
    row = _BEARER_LOOKUP.first(
        session.connection(), {"sub": claims.sub, "jti": claims.jti, "fam": claims.fam, "kid": claims.kid}
    )
    if row is None:
        raise Unauthenticated("the access token names no known person")
    user_id, username, roles, status, access_ends_at, token_version, must_change, revoked_jti, ended = row[:9]
    key_known, key_retired = row[9:]
    if key_known is None or key_retired is not None:
        raise Unauthenticated(UNTRUSTED_KEY)
    if revoked_jti is not None:
        raise Unauthenticated("this access token was logged out")
    if ended is not None:
        raise Unauthenticated("the session this access token belongs to has ended; log in again")
    if token_version != claims.ver:
        raise Unauthenticated("this access token has been revoked; log in again")
    if not is_active(status=status, access_ends_at=access_ends_at, now=now):
        raise Unauthenticated(NOT_ACTIVE)
    return Principal(
        user_id=user_id,
        username=username,
        roles=frozenset(roles),
        status=status,
        via="token",
        jti=claims.jti,
        family_id=claims.fam,
        token_expires=claims.exp,
        token_via=claims.via,
        must_change_password=bool(must_change),
    )


def _api_key_principal(*, session: Session, key_hash: str, now: datetime) -> Principal:
    row = session.execute(
        select(User, ApiKey).join(ApiKey, ApiKey.user_id == User.id).where(ApiKey.key_hash == key_hash)
    ).first()
    if row is None or row[1].revoked_at is not None:
        raise Unauthenticated("unknown or revoked API key")
    user, key = row
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthenticated("this API key has expired; ask an admin for a new one")
    principal = _principal(user, now=now, via="api_key")
    return replace(
        principal, api_key_id=key.id, key_last_used=key.last_used_at, key_created_by=key.created_by
    )
