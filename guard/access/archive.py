"""The zip archive of a bulk export: every member watermarked where its format allows."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

from guard.access.watermark import Mark, apply
from guard.audit.chain import format_ts

UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class Member:
    document_id: str
    customer: str  # the customer's external id: one folder per customer
    filename: str
    content_type: str
    data: bytes


def _safe(part: str) -> str:
    return UNSAFE.sub("_", part).strip(" .") or "_"


def build(members: list[Member], mark: Mark) -> bytes:
    buffer = io.BytesIO()
    lines = [mark.sentence, "", "document id                       name in this archive      watermark"]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            name = f"{_safe(member.customer)}/{member.document_id[:8]}-{_safe(member.filename)}"
            body, marked = apply(member.data, member.content_type, mark)
            info = zipfile.ZipInfo(name, date_time=mark.at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.comment = mark.header.encode()
            archive.writestr(info, body)
            lines.append(f"{member.document_id}  {name}  {'in the file' if marked else 'this manifest'}")
        archive.writestr("GUARD-COPY.txt", "\n".join(lines) + "\n")
        archive.comment = f"{mark.header}; made {format_ts(mark.at)}".encode()[:65535]
    return buffer.getvalue()
