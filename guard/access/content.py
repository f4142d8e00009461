"""Exchanging a content token for the bytes of its grant, once, in three steps.

1. `claim`, a short unit of work: the token and the grant are checked against the rules in force, and the
   grant is consumed with one conditional UPDATE (`... WHERE delivered_at IS NULL AND token_jti = :jti`),
   which exactly one of several concurrent uses can win.
2. `build`, outside any transaction and lock: the blobs are decrypted, checked and watermarked (or zipped),
   so one large export never holds up other requests' writes.
3. `record_delivery`, a second short unit: the `content.deliver` entry; the bytes leave only once it is
   committed. A damaged blob instead gives the grant back (`release_damaged`, audited as `vault.damaged`),
   so the person can collect the copy once the vault is repaired.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from guard.access import archive
from guard.access.models import AccessRequest
from guard.access.standing import refuse_if_disallowed
from guard.access.tokens import ContentTokenCodec
from guard.access.watermark import Mark, apply
from guard.audit.log import record
from guard.auth.service import can_act
from guard.customers.models import Customer
from guard.documents.models import Document
from guard.errors import Gone, Unauthenticated
from guard.people.models import User
from guard.policies.access import AccessPolicy
from guard.vault.envelope import VaultDamaged
from guard.vault.store import Vault


@dataclass(frozen=True)
class CopyOf:
    """What building one document's copy needs, read in the claiming unit."""

    document_id: str
    filename: str
    content_type: str
    sha256: str
    customer: str  # the customer's external id (an export's folder)


@dataclass(frozen=True)
class Claim:
    """A grant consumed for one delivery: everything the later steps need, no session attached."""

    request_id: str
    token_jti: str
    action: str
    target: str
    document_payload: dict[str, Any]
    reader: str
    reader_status: str
    honeytoken: bool
    copies: tuple[CopyOf, ...]


# Types a browser would run as a page in Guard's own origin (scripts, event handlers): a copy of one is
# always a download, and sandboxed should anything open it in place.
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "text/javascript",
        "application/javascript",
    }
)


def is_active(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in ACTIVE_TYPES


@dataclass(frozen=True)
class Delivery:
    body: bytes
    content_type: str
    filename: str
    attachment: bool
    watermark: str  # the mark, also sent as a header
    marked_inside: bool

    @property
    def active(self) -> bool:
        return is_active(self.content_type)


def _grant(
    session: Session, *, policy: AccessPolicy, tokens: ContentTokenCodec, token: str, now: datetime
) -> tuple[AccessRequest, User]:
    claims = tokens.decode(token, now=now)
    request = session.get(AccessRequest, claims.grant_id)
    if request is None or request.requester_id != claims.user_id or request.token_jti != claims.jti:
        raise Unauthenticated("this content link does not belong to a current grant")
    user = session.get(User, request.requester_id)
    if user is None or not can_act(user, now) or user.token_version != claims.version:
        raise Unauthenticated("the person this content link was issued to can no longer act")
    if request.delivered_at is not None:
        raise Gone("this content link was already used; each grant delivers one copy")
    if request.revoked_at is not None or request.status != "granted":
        raise Gone("this grant was revoked")
    if request.grant_until is None or request.grant_until <= now:
        raise Gone("this grant has expired; ask again")
    refuse_if_disallowed(session, policy=policy, user=user, grant=request, now=now)
    return request, user


def claim(
    *, session: Session, policy: AccessPolicy, tokens: ContentTokenCodec, token: str, now: datetime
) -> Claim:
    """Check the token and the grant under the rules in force and consume the grant (step 1)."""
    request, user = _grant(session, policy=policy, tokens=tokens, token=token, now=now)
    documents = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(request.documents)))}
    externals = dict(
        session.execute(
            select(Customer.id, Customer.external_id).where(
                Customer.id.in_({d.customer_id for d in documents.values()})
            )
        ).all()
    )
    consumed = session.execute(
        update(AccessRequest)
        .where(
            AccessRequest.id == request.id,
            AccessRequest.token_jti == request.token_jti,
            AccessRequest.delivered_at.is_(None),
            AccessRequest.revoked_at.is_(None),
        )
        .values(delivered_at=now)
        .execution_options(synchronize_session=False)
    )
    if consumed.rowcount != 1:  # type: ignore[attr-defined]
        raise Gone("this content link was already used; each grant delivers one copy")
    assert request.token_jti is not None  # checked against the token above
    copies = tuple(
        CopyOf(d.id, d.filename, d.content_type, d.sha256, externals[d.customer_id])
        for d in (documents[document_id] for document_id in request.documents)
    )
    return Claim(
        request_id=request.id,
        token_jti=request.token_jti,
        action=request.action,
        target=request.target(),
        document_payload=request.document_payload(),
        reader=user.username,
        reader_status=user.status,
        honeytoken=request.honeytoken,
        copies=copies,
    )


class CopyDamaged(VaultDamaged):
    """A blob failed its integrity check while the copy was built; `document_id` names it."""

    def __init__(self, detail: str, *, document_id: str) -> None:
        super().__init__(detail)
        self.document_id = document_id


def build(*, vault: Vault, claim: Claim, now: datetime) -> Delivery:
    """Decrypt, check and mark the copy (step 2): no session, no lock."""
    plaintexts: list[tuple[CopyOf, bytes]] = []
    for copy in claim.copies:
        try:
            data = vault.get(copy.document_id)
            if hashlib.sha256(data).hexdigest() != copy.sha256:
                raise VaultDamaged(
                    f"the stored copy of document {copy.document_id} does not match its checksum"
                )
        except VaultDamaged as exc:
            raise CopyDamaged(exc.detail, document_id=copy.document_id) from exc
        plaintexts.append((copy, data))
    mark = Mark(reader=claim.reader, at=now, grant_id=claim.request_id)
    if claim.action != "export":
        copy, data = plaintexts[0]
        body, inside = apply(data, copy.content_type, mark)
        attachment = claim.action == "download" or is_active(copy.content_type)
        return Delivery(body, copy.content_type, copy.filename, attachment, mark.header, inside)
    members = [
        archive.Member(c.document_id, c.customer, c.filename, c.content_type, data) for c, data in plaintexts
    ]
    body = archive.build(members, mark)
    return Delivery(body, "application/zip", f"guard-export-{claim.request_id}.zip", True, mark.header, True)


def record_delivery(*, session: Session, claim: Claim, delivery: Delivery, now: datetime) -> None:
    """The `content.deliver` entry (step 3); the bytes are sent once this unit has committed."""
    session.execute(
        update(AccessRequest)
        .where(AccessRequest.id == claim.request_id, AccessRequest.token_jti == claim.token_jti)
        .values(delivered_bytes=len(delivery.body))
        .execution_options(synchronize_session=False)
    )
    record(
        session=session,
        actor=claim.reader,
        action="content.deliver",
        target=claim.target,
        payload={
            "request_id": claim.request_id,
            **claim.document_payload,
            "action": claim.action,
            "bytes": len(delivery.body),
            "status": claim.reader_status,
            "honeytoken": claim.honeytoken,
            "watermark": "in the file" if delivery.marked_inside else "header",
        },
        ts=now,
    )


def release_damaged(*, session: Session, claim: Claim, damaged: CopyDamaged, now: datetime) -> None:
    """A blob failed its check: audit it and give the grant back, so the copy can be collected after the
    vault is repaired."""
    session.execute(
        update(AccessRequest)
        .where(AccessRequest.id == claim.request_id, AccessRequest.token_jti == claim.token_jti)
        .values(delivered_at=None)
        .execution_options(synchronize_session=False)
    )
    record(
        session=session,
        actor=claim.reader,
        action="vault.damaged",
        target=f"document:{damaged.document_id}",
        payload={
            "request_id": claim.request_id,
            "document_id": damaged.document_id,
            "problem": damaged.detail,
        },
        ts=now,
    )
