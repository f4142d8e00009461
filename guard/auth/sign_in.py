"""Signing in and changing one's own password, the same way for the API (POST /auth/login, POST
/me/password) and the console's forms."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from guard.auth import password_change, service, throttle
from guard.errors import InvalidInput
from guard.people.service import get_user

if TYPE_CHECKING:
    from guard.runtime import Runtime


def password_login(
    *,
    session: Session,
    runtime: Runtime,
    username: str,
    password: str,
    client: service.ClientInfo,
    now: datetime,
) -> service.TokenPair:
    """Check the password in a read transaction of its own (slow on purpose, holding no lock), then start
    the session in `session`. A try that must wait is refused before the password check."""
    policy = throttle.ThrottlePolicy.from_settings(runtime.settings.auth)
    keys = throttle.keys_for(username, client.address)
    with runtime.db.read() as read:
        wait = throttle.wait_seconds(session=read, keys=keys, policy=policy, now=now)
        if wait:
            raise throttle.too_many(wait)
        password_ok = service.check_password(
            session=read, passwords=runtime.passwords, username=username, password=password
        )
    return service.login(
        session=session,
        codec=runtime.codec,
        username=username,
        password_ok=password_ok,
        client=client,
        throttle=policy,
        now=now,
        refresh_lifetime=runtime.refresh_lifetime,
    )


def change_own_password(
    *,
    session: Session,
    runtime: Runtime,
    user_id: str,
    current_password: str,
    new_password: str,
    client: service.ClientInfo,
    now: datetime,
) -> service.TokenPair:
    """Every session ends, this one too; the answer is a new session's tokens. The slow checks (the
    current password, the new one's strength) run first in a read transaction of their own."""
    with runtime.db.read() as read:
        user = get_user(session=read, user_id=user_id)
        current_ok = runtime.passwords.verify(user.password_hash, current_password)
        details = password_change.about(user)
    if current_ok:
        if new_password == current_password:
            raise InvalidInput("choose a new password different from the current one")
        runtime.passwords.check_strength(new_password, about=details)
    new_hash = runtime.passwords.hash(new_password) if current_ok else ""
    return password_change.change_own_password(
        session=session,
        codec=runtime.codec,
        user_id=user_id,
        current_ok=current_ok,
        new_hash=new_hash,
        client=client,
        now=now,
        refresh_lifetime=runtime.refresh_lifetime,
    )
