"""GET /content/{token}: the bytes of one grant, once. The token is the credential (no bearer needed),
so a browser can follow the link; it works for seconds, once, and only while its person may still act.
Concurrent uses of one token contend for one row, so the exchange runs as one unit (see api.unit)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from api import unit
from api.deps import WRITES, GuardRoute, NowDep, RuntimeDep
from guard.access.content import Delivery, deliver

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
    def work(session: Session) -> Delivery:
        return deliver(
            session=session,
            vault=runtime.vault,
            policy=runtime.policies.current,
            tokens=runtime.content_tokens,
            token=token,
            now=now,
        )

    delivery = await unit.anonymous(http, runtime, work)
    return Response(
        delivery.body,
        media_type=delivery.content_type,
        headers={
            "Content-Disposition": _disposition(delivery.filename, attachment=delivery.attachment),
            "X-Guard-Watermark": delivery.watermark,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
