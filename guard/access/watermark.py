"""Watermarks on delivered copies, naming the reader, the time and the grant.

Where the format allows, the mark is in the bytes:
- text/plain: a final line `-- Copy for ... --`
- text/markdown: a final horizontal rule and an italic line
- text/csv: a final comment line `# Copy for ...` (the data rows stay untouched at the top; tools that
  honour `#` comments skip it)
- text/html: an HTML comment first and a visible footer before `</body>` (or at the end)
Any other format (PDF, images, office files, or text that is not UTF-8) is delivered byte-for-byte; the
mark then travels in the `X-Guard-Watermark` response header and the grant is in the audit log.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime

from guard.audit.chain import format_ts

MARKABLE = {"text/plain", "text/markdown", "text/x-markdown", "text/csv", "text/html"}
BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Mark:
    reader: str
    at: datetime
    grant_id: str

    @property
    def sentence(self) -> str:
        when = format_ts(self.at)
        return f"Copy for {self.reader} at {when} under grant {self.grant_id}; every copy is recorded."

    @property
    def header(self) -> str:
        return f"reader={self.reader}; time={format_ts(self.at)}; grant={self.grant_id}"


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def apply(data: bytes, content_type: str, mark: Mark) -> tuple[bytes, bool]:
    """The delivered bytes, and whether the mark is inside them."""
    kind = content_type.split(";")[0].strip().lower()
    if kind not in MARKABLE:
        return data, False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data, False
    nl = _newline(text)
    tail = "" if not text or text.endswith(("\n", "\r")) else nl
    if kind == "text/html":
        safe = html.escape(mark.sentence)
        comment = f"<!-- {safe} -->{nl}".encode()
        footer = f'<footer class="guard-watermark">{safe}</footer>{nl}'.encode()
        ends = list(BODY_END.finditer(data))
        if ends:
            at = ends[-1].start()
            return comment + data[:at] + footer + data[at:], True
        return comment + data + tail.encode() + footer, True
    if kind == "text/csv":
        return (text + tail + f"# {mark.sentence}{nl}").encode(), True
    if kind in ("text/markdown", "text/x-markdown"):
        return (text + tail + f"{nl}---{nl}{nl}*{mark.sentence}*{nl}").encode(), True
    return (text + tail + f"{nl}-- {mark.sentence} --{nl}").encode(), True
