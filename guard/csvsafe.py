"""Every CSV Guard writes goes through here, so a spreadsheet never runs a cell as a formula.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'` (the OWASP
advice for CSV injection): customer names, document titles and audit payloads come from people Guard
does not trust to write formulas into a security reviewer's spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV text with every cell defused."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([defuse(cell) for cell in row] for row in rows)
    return buffer.getvalue()
