"""Small shared vocabularies."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    STAFF = "staff"
    AUTHOR = "author"
    CUSTODIAN = "custodian"
    APPROVER = "approver"
    SECURITY = "security"
    HR = "hr"
    ADMIN = "admin"
    INGEST = "ingest"


class Status(StrEnum):
    ACTIVE = "active"
    NOTICE = "notice"
    DEPARTED = "departed"
    SUSPENDED = "suspended"


class Lifecycle(StrEnum):
    ACTIVE = "active"
    NOTICE = "notice"
    DEPARTED = "departed"


class HoldKind(StrEnum):
    SUSPENDED = "suspended"  # no access at all: every credential is refused
    REVIEW = "review"  # every request needs an approver's sign-off


# People in these states may still authenticate; the access policy decides what they may do.
WORKING_STATUSES = frozenset({Status.ACTIVE, Status.NOTICE})
