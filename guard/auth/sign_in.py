"""Signing in with a password, the same way for the API (POST /auth/login) and the console's form."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from guard.auth import service, throttle

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
