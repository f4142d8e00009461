"""Failed logins are throttled per account and per client address, in the database so that every worker
process counts alike (no library fits: the maintained rate limiters keep their counters in memory, Redis
or memcached, and Guard's default deployment has only its database).

Within a window, the first few failures cost nothing; each further one makes the next try wait twice as
long; at the lockout threshold the key is locked for a while. A try that must wait is answered 429 with
Retry-After before the password is even checked, and again, under the row lock, in the login's own
transaction, so concurrent guesses in several workers cannot slip past. The log gets one entry when a
burst of failures starts and one per lockout, not one per guess (guard.auth.service.login).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from guard.auth.models import LoginThrottle
from guard.errors import TooManyAttempts
from guard.settings import AuthSettings


@dataclass(frozen=True)
class ThrottlePolicy:
    window: timedelta
    free_failures: int
    max_delay_seconds: int
    lockout_failures: int
    lockout: timedelta

    @classmethod
    def from_settings(cls, auth: AuthSettings) -> ThrottlePolicy:
        return cls(
            window=timedelta(minutes=auth.throttle_window_minutes),
            free_failures=auth.throttle_free_failures,
            max_delay_seconds=auth.throttle_max_delay_seconds,
            lockout_failures=auth.throttle_lockout_failures,
            lockout=timedelta(minutes=auth.throttle_lockout_minutes),
        )


@dataclass
class Counted:
    """What one failure changed: whether a burst started, and the keys it locked."""

    burst_started: bool
    locked: list[LoginThrottle]


def keys_for(username: str, address: str | None) -> list[str]:
    keys = [f"user:{username.strip().lower()[:64]}"]
    if address:
        keys.append(f"address:{address[:100]}")
    return sorted(keys)  # always locked in this order: no deadlock between two logins


def refresh_key(address: str) -> str:
    """Made-up refresh tokens are counted per client address."""
    return f"refresh-address:{address[:100]}"


def wait_seconds(*, session: Session, keys: list[str], policy: ThrottlePolicy, now: datetime) -> int:
    """0 when a try may go ahead now, else how many seconds it must wait (a plain read, no lock)."""
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    return max((_wait(row, policy, now) for row in rows), default=0)


def check_under_lock(
    *, session: Session, keys: list[str], policy: ThrottlePolicy, now: datetime
) -> list[LoginThrottle]:
    """In the login's write transaction: lock the keys' rows (creating them) and refuse a try that must
    wait. Returns the locked rows, for `count_failure` or `clear`."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for key in keys:
        session.execute(
            insert(LoginThrottle).values(key=key, failures=0, window_started_at=now).on_conflict_do_nothing()
        )
    rows = list(
        session.scalars(
            select(LoginThrottle)
            .where(LoginThrottle.key.in_(keys))
            .order_by(LoginThrottle.key)
            .with_for_update()
        )
    )
    wait = max((_wait(row, policy, now) for row in rows), default=0)
    if wait:
        raise too_many(wait)
    return rows


def count_failure(*, rows: list[LoginThrottle], policy: ThrottlePolicy, now: datetime) -> Counted:
    counted = Counted(burst_started=False, locked=[])
    for row in rows:
        if _window_over(row, policy, now):
            row.failures, row.window_started_at, row.next_try_at, row.locked_until = 0, now, None, None
        row.failures += 1
        counted.burst_started |= row.failures == 1
        if row.failures >= policy.lockout_failures:
            row.locked_until = now + policy.lockout
            counted.locked.append(row)
        elif row.failures > policy.free_failures:
            delay = min(2 ** (row.failures - policy.free_failures - 1), policy.max_delay_seconds)
            row.next_try_at = now + timedelta(seconds=delay)
    return counted


def clear(*, rows: list[LoginThrottle], policy: ThrottlePolicy, now: datetime) -> int:
    """After a successful login: the account's count starts again (the address's does not, or one valid
    account would let its owner reset the count between guesses at others). Returns the failures before."""
    before = 0
    for row in rows:
        if row.key.startswith("user:"):
            before = 0 if _window_over(row, policy, now) else row.failures
            row.failures, row.window_started_at, row.next_try_at, row.locked_until = 0, now, None, None
    return before


def _window_over(row: LoginThrottle, policy: ThrottlePolicy, now: datetime) -> bool:
    if row.locked_until is not None:
        return row.locked_until <= now  # a lockout that ended starts a fresh window
    return row.window_started_at + policy.window <= now


def _wait(row: LoginThrottle, policy: ThrottlePolicy, now: datetime) -> int:
    if row.locked_until is not None and row.locked_until > now:
        return math.ceil((row.locked_until - now).total_seconds())
    if _window_over(row, policy, now) or row.next_try_at is None or row.next_try_at <= now:
        return 0
    return math.ceil((row.next_try_at - now).total_seconds())


def too_many(wait: int) -> TooManyAttempts:
    detail = f"too many failed logins for this account or from this address; try again in {wait} s"
    return TooManyAttempts(detail, retry_after=wait)
