"""Changing, resetting and setting passwords. Every change ends the person's sessions everywhere.

The slow parts (verifying the current password, hashing the new one) happen before these functions are
called, outside the write transaction: the callers pass the outcome and the new hash.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.auth.service import ClientInfo, TokenPair, start_session
from guard.auth.tokens import TokenCodec
from guard.db import new_id
from guard.errors import Forbidden, InvalidInput
from guard.notifications.service import notify
from guard.people.models import User
from guard.people.service import get_user, security_team
from guard.people.sessions import revoke_sessions


def about(user: User) -> list[str]:
    """The person's own details, which a password must not be built from."""
    return [user.username, user.display_name, user.email]


def change_own_password(
    *,
    session: Session,
    codec: TokenCodec,
    user_id: str,
    current_ok: bool,
    new_hash: str,
    client: ClientInfo,
    now: datetime,
    refresh_lifetime: timedelta,
) -> TokenPair:
    """The person changes their own password (the current one was checked: `current_ok`). Every session
    ends, this one too, and a new session starts for the caller: the answer carries its tokens."""
    user = get_user(session=session, user_id=user_id)
    if not current_ok:
        record(
            session=session,
            actor=user.username,
            action="user.password_change_failed",
            target=f"user:{user.username}",
            payload={"reason": "wrong current password", **client.as_payload()},
            ts=now,
        )
        raise Forbidden("the current password is not right; nothing was changed", keep_changes=True)
    _replace_password(session, user, new_hash=new_hash, change_required=False, now=now)
    record(
        session=session,
        actor=user.username,
        action="user.password_change",
        target=f"user:{user.username}",
        payload={"sessions_ended": True, **client.as_payload()},
        ts=now,
    )
    return start_session(
        session=session,
        codec=codec,
        user=user,
        family_id=new_id(),
        via="password",
        now=now,
        refresh_lifetime=refresh_lifetime,
    )


def reset_password(*, session: Session, actor: str, user_id: str, new_hash: str, now: datetime) -> User:
    """An admin gives the person a temporary password: their sessions end, they must choose a new one at
    their next login, and they and security are told (an admin who knows it could log in as them)."""
    user = get_user(session=session, user_id=user_id)
    if user.username == actor:
        raise InvalidInput("change your own password with POST /me/password (your current one is needed)")
    _replace_password(session, user, new_hash=new_hash, change_required=True, now=now)
    record(
        session=session,
        actor=actor,
        action="user.password_reset",
        target=f"user:{user.username}",
        payload={"sessions_ended": True, "change_required": True},
        ts=now,
    )
    notify(
        session=session,
        recipients=[user.username, *security_team(session)],
        kind="password",
        subject=f"The password of {user.username} was reset by {actor}",
        body=(
            f"{actor} gave {user.username} a temporary password; every session of {user.username} ended and "
            "a new password must be chosen at the next login. If nobody asked for this, tell security."
        ),
        data={"user": user.username, "reset_by": actor},
        now=now,
    )
    return user


def set_password(
    *, session: Session, actor: str, user: User, new_hash: str, change_required: bool, now: datetime
) -> None:
    """On the host (`guard users passwd`): set a password; the person's sessions end."""
    _replace_password(session, user, new_hash=new_hash, change_required=change_required, now=now)
    record(
        session=session,
        actor=actor,
        action="user.password_set",
        target=f"user:{user.username}",
        payload={"sessions_ended": True, "change_required": change_required},
        ts=now,
    )


def _replace_password(
    session: Session, user: User, *, new_hash: str, change_required: bool, now: datetime
) -> None:
    """Every way a password changes ends all of the person's sessions, in the same transaction."""
    user.password_hash, user.must_change_password, user.updated_at = new_hash, change_required, now
    revoke_sessions(session=session, user=user, now=now)
