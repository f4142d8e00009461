"""API keys for machine clients (the HR system, a CRM): made by an admin, listed, expired and revoked.

A key acts as the person it belongs to. An admin who makes a key for someone else could act as them, so
that person and the security team are told at once, and every key records who made it.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.bounds import require_reason
from guard.errors import Conflict, InvalidInput, NotFound
from guard.notifications.service import notify
from guard.people.models import ApiKey
from guard.people.service import get_user, hash_secret, security_team

API_KEY_PREFIX = "gk_"
KeyState = Literal["active", "expired", "revoked"]
# Last use is kept to the minute: a key used many times a second writes at most once a minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_api_key(
    *, session: Session, actor: str, user_id: str, name: str, expires_at: datetime | None, now: datetime
) -> tuple[ApiKey, str]:
    """Returns the stored key and the plaintext, which is shown once and never stored."""
    user = get_user(session=session, user_id=user_id)
    if not name.strip():
        raise InvalidInput("an API key needs a name saying what uses it")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("expires_at must be in the future")
    plaintext = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        user_id=user.id,
        name=name.strip(),
        prefix=plaintext[:10],
        key_hash=hash_secret(plaintext),
        created_at=now,
        created_by=actor,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    for_someone_else = actor != user.username
    record(
        session=session,
        actor=actor,
        action="apikey.create",
        target=f"user:{user.username}",
        payload={
            "key_id": key.id,
            "name": key.name,
            "prefix": key.prefix,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "for_someone_else": for_someone_else,
        },
        ts=now,
    )
    if for_someone_else:
        notify(
            session=session,
            recipients=[user.username, *security_team(session)],
            kind="apikey",
            subject=f"An API key was made for {user.username} by {actor}",
            body=(
                f"{actor} made the API key '{key.name}' ({key.prefix}…) that acts as {user.username}. "
                "If nobody should act as this person, revoke it."
            ),
            data={"user": user.username, "key_id": key.id, "created_by": actor},
            now=now,
        )
    return key, plaintext


def list_api_keys(*, session: Session, user_id: str) -> list[ApiKey]:
    """Every key of the person, revoked and expired ones included, newest first."""
    get_user(session=session, user_id=user_id)
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at.desc(), ApiKey.id)
        )
    )


def revoke_api_key(
    *, session: Session, actor: str, user_id: str, key_id: str, reason: str, now: datetime
) -> ApiKey:
    reason = require_reason(reason, missing="say why the key is revoked")
    user = get_user(session=session, user_id=user_id)
    key = session.scalars(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id).with_for_update()
    ).first()
    if key is None:
        raise NotFound("no such API key for this person")
    if key.revoked_at is not None:
        raise Conflict(f"this API key was already revoked at {key.revoked_at.isoformat()}")
    key.revoked_at, key.revoked_by, key.revoke_reason = now, actor, reason
    record(
        session=session,
        actor=actor,
        action="apikey.revoke",
        target=f"user:{user.username}",
        payload={"key_id": key.id, "name": key.name, "prefix": key.prefix, "reason": reason},
        ts=now,
    )
    return key


def key_state(key: ApiKey, now: datetime) -> KeyState:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def key_use_due(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION


def note_key_use(*, session: Session, key_id: str, last_used_at: datetime | None, now: datetime) -> None:
    """Keep the key's last use, to the minute (no write when it was already noted this minute)."""
    if not key_use_due(last_used_at, now):
        return
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
    )
