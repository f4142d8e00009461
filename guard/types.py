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


# People in these states may still authenticate; the access policy decides what they may do.
WORKING_STATUSES = frozenset({Status.ACTIVE, Status.NOTICE})
