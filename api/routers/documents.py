"""Documents: upload (authors, custodians, admins; security for honeytokens) and metadata for everyone.

The metadata of every document is visible to every working person (the broker guards the content, not
the existence); `views_left` is the caller's own. Whether a document is a honeytoken is shown only to
security and admins, so a reader can never tell: to everyone else a honeytoken names its cover persons
(ordinary people chosen when it is planted, by default the customer's owner) as author and custodian.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel
from starlette.formparsers import MultiPartParser

from api.deps import GuardRoute, NowDep, PrincipalDep, RuntimeDep, SessionDep, require_roles
from api.paging import PAGED, CursorQuery, LimitQuery, page_request, send_page
from guard.auth.service import Principal
from guard.documents import service
from guard.errors import Forbidden
from guard.people.service import get_user
from guard.types import Role

# Keep uploads in memory (the body size is already capped by the middleware) so the plaintext of a
# document never lands in a temporary file on disk before it is encrypted.
MultiPartParser.spool_max_size = 1 << 40

router = APIRouter(tags=["documents"], route_class=GuardRoute)
UploaderDep = Annotated[
    Principal, Depends(require_roles(Role.AUTHOR, Role.CUSTODIAN, Role.ADMIN, Role.SECURITY))
]
HONEYTOKEN_ROLES = (Role.SECURITY, Role.ADMIN)
ClassificationName = Literal["public", "internal", "confidential", "restricted"]


class DocumentOut(BaseModel):
    id: str
    customer_id: str
    title: str
    classification: str
    author: str
    custodian: str
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    views_left: int | None  # the caller's views left under the quota; null when unlimited
    honeytoken: bool | None = None  # shown to security and admins only


def _out(view: service.DocumentView, principal: Principal) -> DocumentOut:
    doc = view.document
    insider = principal.has_any(*HONEYTOKEN_ROLES)
    author, custodian = view.shown(insider=insider)
    return DocumentOut(
        id=doc.id,
        customer_id=doc.customer_id,
        title=doc.title,
        classification=doc.classification,
        author=author,
        custodian=custodian,
        filename=doc.filename,
        content_type=doc.content_type,
        size=doc.size,
        sha256=doc.sha256,
        created_at=doc.created_at,
        views_left=view.views_left,
        honeytoken=doc.honeytoken if insider else None,
    )


@router.post("/documents", status_code=201, response_model=DocumentOut)
def upload_document(
    principal: UploaderDep,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
    file: Annotated[UploadFile, File(description="the document")],
    customer_id: Annotated[str, Form(min_length=1, max_length=32)],
    title: Annotated[str, Form(min_length=1, max_length=300)],
    classification: Annotated[ClassificationName, Form()],
    custodian: Annotated[str | None, Form(max_length=254)] = None,
    honeytoken: Annotated[bool, Form()] = False,
    cover_author: Annotated[
        str | None, Form(max_length=254, description="honeytokens: the author readers see")
    ] = None,
    cover_custodian: Annotated[
        str | None, Form(max_length=254, description="honeytokens: the custodian readers see")
    ] = None,
) -> DocumentOut:
    if honeytoken and not principal.has_any(*HONEYTOKEN_ROLES):
        raise Forbidden("only security and admins may place honeytoken documents")
    if not honeytoken and not principal.has_any(Role.AUTHOR, Role.CUSTODIAN, Role.ADMIN):
        raise Forbidden("security may upload honeytoken documents only")
    author = get_user(session=session, user_id=principal.user_id)
    document = service.create_document(
        session=session,
        vault=runtime.vault,
        author=author,
        customer_id=customer_id,
        title=title,
        classification=classification,
        upload=service.Upload(file.filename or "", file.content_type or "", file.file.read()),
        max_bytes=runtime.settings.http.upload_max_bytes,
        now=now,
        custodian=custodian,
        honeytoken=honeytoken,
        cover_author=cover_author,
        cover_custodian=cover_custodian,
    )
    view = service.get_document(
        session=session, document_id=document.id, policy=runtime.policies.current, reader=author, now=now
    )
    return _out(view, principal)


@router.get("/documents", response_model=list[DocumentOut], responses=PAGED)
def list_documents(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
    request: Request,
    response: Response,
    customer_id: Annotated[str | None, Query(max_length=32)] = None,
    classification: Annotated[ClassificationName | None, Query()] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DocumentOut]:
    """Documents with the caller's views left, oldest first; pages with the X-Next-Cursor header."""
    page = service.list_documents(
        session=session,
        policy=runtime.policies.current,
        reader=get_user(session=session, user_id=principal.user_id),
        now=now,
        page=page_request(runtime.keyring.master_key, cursor, limit, offset),
        customer_id=customer_id,
        classification=classification,
    )
    send_page(request, response, page)
    return [_out(view, principal) for view in page.items]


@router.get("/documents/{document_id}", response_model=DocumentOut)
def get_document(
    document_id: str, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep, now: NowDep
) -> DocumentOut:
    view = service.get_document(
        session=session,
        document_id=document_id,
        policy=runtime.policies.current,
        reader=get_user(session=session, user_id=principal.user_id),
        now=now,
    )
    return _out(view, principal)
