"""Exchanging a content token for the bytes of its grant, once.

Order matters: the token and the grant are checked, the blobs are decrypted and watermarked, and only
then is the grant consumed with one conditional UPDATE (`... WHERE delivered_at IS NULL AND token_jti =
:jti`), which exactly one of several concurrent uses can win. A damaged blob is audited and refused
before the grant is consumed, so the person can collect the copy once the vault is repaired.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

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
class Delivery:
    body: bytes
    content_type: str
    filename: str
    attachment: bool
    watermark: str  # the mark, also sent as a header
    marked_inside: bool


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


def _plaintexts(
    session: Session, vault: Vault, request: AccessRequest, actor: str, now: datetime
) -> list[tuple[Document, bytes]]:
    docs = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(request.documents)))}
    result = []
    for document_id in request.documents:
        document = docs[document_id]
        try:
            data = vault.get(document_id)
            if hashlib.sha256(data).hexdigest() != document.sha256:
                raise VaultDamaged(f"the stored copy of document {document_id} does not match its checksum")
        except VaultDamaged as exc:
            record(
                session=session,
                actor=actor,
                action="vault.damaged",
                target=f"document:{document_id}",
                payload={"request_id": request.id, "document_id": document_id, "problem": exc.detail},
                ts=now,
            )
            raise VaultDamaged(
                "the stored copy of this document failed its integrity check and was not served; "
                "the security team can see this in the audit log",
                keep_changes=True,
            ) from exc
        result.append((document, data))
    return result


def _package(
    session: Session, request: AccessRequest, docs: list[tuple[Document, bytes]], mark: Mark
) -> Delivery:
    if request.action != "export":
        document, data = docs[0]
        body, inside = apply(data, document.content_type, mark)
        return Delivery(
            body, document.content_type, document.filename, request.action == "download", mark.header, inside
        )
    externals = dict(
        session.execute(
            select(Customer.id, Customer.external_id).where(Customer.id.in_({d.customer_id for d, _ in docs}))
        ).all()
    )
    members = [
        archive.Member(d.id, externals[d.customer_id], d.filename, d.content_type, data) for d, data in docs
    ]
    body = archive.build(members, mark)
    return Delivery(body, "application/zip", f"guard-export-{request.id}.zip", True, mark.header, True)


def deliver(
    *,
    session: Session,
    vault: Vault,
    policy: AccessPolicy,
    tokens: ContentTokenCodec,
    token: str,
    now: datetime,
) -> Delivery:
    """The grant's bytes, once, if the rules in force still allow the grant (otherwise it is voided)."""
    request, user = _grant(session, policy=policy, tokens=tokens, token=token, now=now)
    docs = _plaintexts(session, vault, request, user.username, now)
    delivery = _package(session, request, docs, Mark(reader=user.username, at=now, grant_id=request.id))
    consumed = session.execute(
        update(AccessRequest)
        .where(
            AccessRequest.id == request.id,
            AccessRequest.token_jti == request.token_jti,
            AccessRequest.delivered_at.is_(None),
            AccessRequest.revoked_at.is_(None),
        )
        .values(delivered_at=now, delivered_bytes=len(delivery.body))
        .execution_options(synchronize_session=False)
    )
    if consumed.rowcount != 1:  # type: ignore[attr-defined]
        raise Gone("this content link was already used; each grant delivers one copy")
    record(
        session=session,
        actor=user.username,
        action="content.deliver",
        target=request.target(),
        payload={
            "request_id": request.id,
            **request.document_payload(),
            "action": request.action,
            "bytes": len(delivery.body),
            "status": user.status,
            "honeytoken": request.honeytoken,
            "watermark": "in the file" if delivery.marked_inside else "header",
        },
        ts=now,
    )
    return delivery
