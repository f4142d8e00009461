"""Domain errors. Only `api/` turns them into HTTP answers; the CLI turns them into exit codes."""

from __future__ import annotations

from typing import Any


class GuardError(Exception):
    """Base of every error the domain raises on purpose. `detail` is written for the person acting."""

    def __init__(self, detail: str, *, keep_changes: bool = False, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        # True when what was written before the refusal must still commit (e.g. the audit entry of a
        # failed login, or a revoked token family): the transaction owner commits, then reports the error.
        self.keep_changes = keep_changes
        self.extra = extra


class InvalidInput(GuardError):
    """The request is well-formed but its content is not acceptable."""


class NotFound(GuardError):
    """The named thing does not exist (or the caller may not know that it does)."""


class Conflict(GuardError):
    """The request clashes with the current state, e.g. a username already taken."""


class Unauthenticated(GuardError):
    """Missing, expired, forged or revoked credentials."""


class Forbidden(GuardError):
    """Authenticated, but acting outside one's role or against separation of duties."""


class PasswordChangeDue(Forbidden):
    """An admin reset the person's password: nothing but choosing a new one until they do."""


class Gone(GuardError):
    """A one-time thing (content token) that has already been used or has expired."""


class TooLarge(GuardError):
    """A body or upload above the configured limit."""


class TooManyAttempts(GuardError):
    """Too many failed attempts: try again after `retry_after` seconds."""

    def __init__(self, detail: str, *, retry_after: int, keep_changes: bool = False) -> None:
        super().__init__(detail, keep_changes=keep_changes, retry_after=retry_after)
        self.retry_after = retry_after


class Unavailable(GuardError):
    """A dependency (database, keys, vault) is not usable: fail closed."""


class ConfigError(GuardError):
    """Settings, keys or policy files are missing or invalid."""
