"""Documents: upload into the vault, list with the caller's looks left, hand custody over."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, event, func, select
from sqlalchemy.orm import Session, aliased

from guard.access.models import AccessCounter
from guard.audit.log import record
from guard.bounds import check_text, visible_length
from guard.customers.models import Customer
from guard.db import new_id
from guard.documents.models import Document
from guard.errors import InvalidInput, NotFound, TooLarge
from guard.paging import Keyset, Page, PageRequest, paginate
from guard.people.holdings import pass_on
from guard.people.models import User
from guard.people.service import find_user
from guard.policies.access import CLASSIFICATIONS, AccessPolicy, Classification, limit_for
from guard.types import WORKING_STATUSES, Role
from guard.vault.store import Vault

GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class DocumentView:
    document: Document
    author: str
    custodian: str
    views_left: int | None
    cover_author: str | None = None  # a honeytoken's cover persons, shown to readers who may not know
    cover_custodian: str | None = None

    def shown(self, *, insider: bool) -> tuple[str, str]:
        """The author and custodian a reader sees: the real ones for insiders (security and admins),
        a honeytoken's cover persons for everyone else, so a decoy reads like any document."""
        if insider or not self.document.honeytoken:
            return self.author, self.custodian
        return self.cover_author or self.author, self.cover_custodian or self.custodian


def _classification(value: str) -> Classification:
    if value not in CLASSIFICATIONS:
        raise InvalidInput(f"classification must be one of: {', '.join(CLASSIFICATIONS)}")
    return value


def _clean_filename(name: str) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:255] or "document"


def _content_type(declared: str, filename: str) -> str:
    value = (declared or "").split(";")[0].strip().lower()
    if value in GENERIC_TYPES or not CONTENT_TYPE.match(value):
        guessed, _ = mimetypes.guess_type(filename)
        value = guessed or "application/octet-stream"
    return value[:120]


def _custodian(session: Session, ref: str) -> User:
    user = find_user(session=session, ref=ref)
    if user.status not in WORKING_STATUSES:
        raise InvalidInput(f"{user.username} is {user.status} and cannot keep documents")
    if Role.CUSTODIAN not in user.roles:
        raise InvalidInput(f"{user.username} does not hold the custodian role")
    return user


def _cover_person(session: Session, ref: str | None, fallback: User | None, what: str) -> User:
    """One of a honeytoken's cover persons: a named working person, by default the customer's owner."""
    user = find_user(session=session, ref=ref) if ref else fallback
    if user is None:
        raise InvalidInput(f"the customer has no owner to stand as {what}; name the {what}")
    if user.status not in WORKING_STATUSES:
        raise InvalidInput(f"{user.username} is {user.status} and cannot stand as {what}")
    return user


def _forget_blob_on_rollback(session: Session, vault: Vault, document_id: str) -> None:
    """The blob is written before the commit; if the transaction rolls back, remove it again."""

    committed = False

    def _committed(_session: Session) -> None:
        nonlocal committed
        committed = True

    def _rolled_back(_session: Session, previous: Any) -> None:
        if not committed and not previous.nested:
            vault.remove(document_id)

    event.listen(session, "after_commit", _committed, once=True)
    event.listen(session, "after_soft_rollback", _rolled_back)


def create_document(
    *,
    session: Session,
    vault: Vault,
    author: User,
    customer_id: str,
    title: str,
    classification: str,
    upload: Upload,
    max_bytes: int,
    now: datetime,
    custodian: str | None = None,
    honeytoken: bool = False,
    cover_author: str | None = None,
    cover_custodian: str | None = None,
) -> Document:
    """Validate everything first, then encrypt into the vault: a refused upload stores nothing.

    A honeytoken names ordinary cover persons as its author and custodian for readers who may not know
    (by default the customer's owner); `author` and `custodian` stay the real ones, for security."""
    level = _classification(classification)
    for name, text in (("title", title), ("customer_id", customer_id), ("custodian", custodian or "")):
        check_text(text, name)
    title = " ".join(title.split())
    if not visible_length(title) or len(title) > 300:
        raise InvalidInput("a document needs a title of 1 to 300 characters")
    if not upload.data:
        raise InvalidInput("the file is empty")
    if len(upload.data) > max_bytes:
        raise TooLarge(f"the file is larger than the upload limit of {max_bytes} bytes")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise InvalidInput(f"no customer with id {customer_id!r}")
    keeper = _custodian(session, custodian) if custodian else author
    cover: tuple[User, User] | None = None
    if honeytoken:
        owner = session.get(User, customer.owner_id)
        cover = (
            _cover_person(session, cover_author, owner, "cover author"),
            _cover_person(session, cover_custodian, owner, "cover custodian"),
        )
    elif cover_author or cover_custodian:
        raise InvalidInput("cover persons are named for honeytoken documents only")
    filename = _clean_filename(upload.filename)
    document = Document(
        id=new_id(),
        customer_id=customer.id,
        title=title,
        classification=level,
        author_id=author.id,
        custodian_id=keeper.id,
        filename=filename,
        content_type=_content_type(upload.content_type, filename),
        size=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        honeytoken=honeytoken,
        cover_author_id=cover[0].id if cover else None,
        cover_custodian_id=cover[1].id if cover else None,
        created_at=now,
    )
    session.add(document)
    session.flush()
    vault.put(document.id, upload.data, session=session)
    _forget_blob_on_rollback(session, vault, document.id)
    record(
        session=session,
        actor=author.username,
        action="document.create",
        target=f"document:{document.id}",
        payload={
            "document_id": document.id,
            "customer_id": customer.id,
            "classification": level,
            "custodian": keeper.username,
            "size": document.size,
            "sha256": document.sha256,
            "honeytoken": honeytoken,
            **({"cover_author": cover[0].username, "cover_custodian": cover[1].username} if cover else {}),
        },
        ts=now,
    )
    return document


def _views(
    session: Session,
    rows: list[tuple[Document, str, str, str | None, str | None]],
    *,
    policy: AccessPolicy,
    reader: User,
    now: datetime,
) -> list[DocumentView]:
    ids = [row[0].id for row in rows]
    used: dict[tuple[str, str], int] = {}
    if ids:
        counters = session.execute(
            select(AccessCounter.document_id, AccessCounter.period, AccessCounter.used).where(
                AccessCounter.user_id == reader.id,
                AccessCounter.action == "view",
                AccessCounter.document_id.in_(ids),
            )
        )
        used = {(doc_id, period): n for doc_id, period, n in counters}
    views = []
    for doc, author, custodian, cover_author, cover_custodian in rows:
        limit = limit_for(
            policy, status=reader.status, action="view", classification=_classification(doc.classification)
        )
        left = limit.left(used.get((doc.id, limit.period(now)), 0))
        views.append(DocumentView(doc, author, custodian, left, cover_author, cover_custodian))
    return views


def _query() -> Any:
    author, custodian = aliased(User), aliased(User)
    cover_author, cover_custodian = aliased(User), aliased(User)
    return (
        select(Document, author.username, custodian.username, cover_author.username, cover_custodian.username)
        .join(author, author.id == Document.author_id)
        .join(custodian, custodian.id == Document.custodian_id)
        .outerjoin(cover_author, cover_author.id == Document.cover_author_id)
        .outerjoin(cover_custodian, cover_custodian.id == Document.cover_custodian_id)
    )


def get_document(
    *, session: Session, document_id: str, policy: AccessPolicy, reader: User, now: datetime
) -> DocumentView:
    row = session.execute(_query().where(Document.id == document_id)).first()
    if row is None:
        raise NotFound(f"no document with id {document_id!r}")
    return _views(session, [tuple(row)], policy=policy, reader=reader, now=now)[0]


def list_documents(
    *,
    session: Session,
    policy: AccessPolicy,
    reader: User,
    now: datetime,
    page: PageRequest,
    customer_id: str | None = None,
    classification: str | None = None,
    title: str | None = None,
    customer_name: str | None = None,
    owner_id: str | None = None,
) -> Page[DocumentView]:
    """Oldest first; keyset pages on (created_at, id). `title` and `customer_name` match any part of the
    name, ignoring case; `owner_id` keeps the documents of that person's customers."""
    query = _query()
    if customer_id is not None:
        query = query.where(Document.customer_id == customer_id)
    if classification is not None:
        query = query.where(Document.classification == _classification(classification))
    if title:
        query = query.where(func.lower(Document.title).contains(title.lower(), autoescape=True))
    if customer_name or owner_id:
        query = query.join(Customer, Customer.id == Document.customer_id)
        if customer_name:
            query = query.where(func.lower(Customer.name).contains(customer_name.lower(), autoescape=True))
        if owner_id:
            query = query.where(Customer.owner_id == owner_id)
    found = paginate(
        session=session,
        query=query,
        keyset=Keyset([Document.created_at, Document.id]),
        key_of=lambda row: (row[0].created_at, row[0].id),
        request=page,
        scope="documents",
        filters={
            "customer_id": customer_id,
            "classification": classification,
            "title": title,
            "customer_name": customer_name,
            "owner_id": owner_id,
        },
    )
    rows = [tuple(row) for row in found.items]
    return Page(_views(session, rows, policy=policy, reader=reader, now=now), found.next_cursor, found.total)


def transfer_custody(
    *, session: Session, actor: str, from_user_id: str, to_user_id: str, now: datetime
) -> list[str]:
    """Every document kept by one person passes to another; returns the document ids moved.

    A honeytoken's cover custody passes the same way, so a decoy never stays with someone who left."""
    moved = pass_on(
        session=session,
        holder=Document.custodian_id,
        from_user_id=from_user_id,
        to_user_id=to_user_id,
        actor=actor,
        action="document.custody_transfer",
        moved_key="document_ids",
        now=now,
    )
    covered = pass_on(
        session=session,
        holder=Document.cover_custodian_id,
        from_user_id=from_user_id,
        to_user_id=to_user_id,
        actor=actor,
        action="document.cover_transfer",
        moved_key="document_ids",
        now=now,
    )
    return list(dict.fromkeys([*moved, *covered]))


def shown_custodian() -> Any:
    """The custodian as readers see it, as a column: a honeytoken's cover custodian, else the real one."""
    return case(
        (Document.honeytoken & Document.cover_custodian_id.is_not(None), Document.cover_custodian_id),
        else_=Document.custodian_id,
    )
