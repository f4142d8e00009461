"""GET /content/{token}: the bytes of one grant, once. The token is the credential (no bearer needed),
so a browser can follow the link; it works for seconds, once, and only while its person may still act.
Concurrent uses of one token contend for one row. The exchange is two short units of work (see api.unit)
around the slow part: claim the grant, build the copy outside any transaction, record the delivery; the
bytes leave only after that record is committed (guard.access.content)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api import unit
from api.deps import WRITES, GuardRoute, NowDep, RuntimeDep
from guard.access import content as content_service
from guard.vault.envelope import VaultDamaged

router = APIRouter(tags=["access"], route_class=GuardRoute)


def _disposition(filename: str, *, attachment: bool) -> str:
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename)
    kind = "attachment" if attachment else "inline"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


@router.get(
    "/content/{token}",
    openapi_extra=WRITES,
    response_class=Response,
    responses={200: {"description": "the document's bytes (watermarked where the format allows)"}},
)
async def content(token: str, http: Request, runtime: RuntimeDep, now: NowDep) -> Response:
    def claiming(session: Session) -> content_service.Claim:
        return content_service.claim(
            session=session,
            policy=runtime.policies.current,
            tokens=runtime.content_tokens,
            token=token,
            now=now,
        )

    claim = await unit.anonymous(http, runtime, claiming)
    try:
        delivery = await run_in_threadpool(
            lambda: content_service.build(vault=runtime.vault, claim=claim, now=now)
        )
    except content_service.CopyDamaged as damaged:
        problem = damaged

        def releasing(session: Session) -> None:
            content_service.release_damaged(session=session, claim=claim, damaged=problem, now=now)

        await unit.anonymous(http, runtime, releasing)
        raise VaultDamaged(
            "the stored copy of this document failed its integrity check and was not served; "
            "the security team can see this in the audit log"
        ) from damaged

    def recording(session: Session) -> None:
        content_service.record_delivery(session=session, claim=claim, delivery=delivery, now=now)

    await unit.anonymous(http, runtime, recording)
    headers = {
        "Content-Disposition": _disposition(delivery.filename, attachment=delivery.attachment),
        "X-Guard-Watermark": delivery.watermark,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if delivery.active:  # an uploaded page or SVG never runs in Guard's origin, even if opened in place
        headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return Response(delivery.body, media_type=delivery.content_type, headers=headers)
