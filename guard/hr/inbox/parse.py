"""Reading an HR file: CSV (the layout HR connectors export) or JSON lines, into events with row numbers.

CSV columns (case and surrounding spaces do not matter): EmailAddress, ResignationDate, LastWorkingDate,
optional EventType (resignation when absent), Successor, EmployeeId. Other columns are ignored and listed
in the result. JSON lines: one object per line with the API's field names (employee, type, notice_date,
last_working_date, successor, idempotency_key) or the CSV column names; unknown keys are an error.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import orjson

from guard.bounds import check_text
from guard.errors import InvalidInput
from guard.hr.calendar import parse_date
from guard.hr.events import EVENT_TYPES, EventInput

CSV_SUFFIXES = frozenset({".csv"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
SUFFIXES = CSV_SUFFIXES | JSONL_SUFFIXES
# Column (lower case) -> API field.
CSV_COLUMNS = {
    "emailaddress": "email",
    "employeeid": "employee_id",
    "resignationdate": "notice_date",
    "lastworkingdate": "last_working_date",
    "eventtype": "type",
    "successor": "successor",
}
JSON_KEYS = {
    "employee": "employee",
    "type": "type",
    "notice_date": "notice_date",
    "last_working_date": "last_working_date",
    "successor": "successor",
    "idempotency_key": "idempotency_key",
    **{name: api for name, api in CSV_COLUMNS.items()},
}


@dataclass(frozen=True)
class Row:
    number: int  # 1-based data row (the CSV header is not a row)
    line: int  # line in the file where the row ends
    event: EventInput
    # When both are given they must name the same person (checked against the database on import).
    also_employee_id: str | None = None


@dataclass(frozen=True)
class RowError:
    row: int  # 0: the file as a whole
    line: int
    error: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "line": self.line, "error": self.error}


@dataclass
class Parsed:
    rows: list[Row] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


def parse(name: str, data: bytes) -> Parsed:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in SUFFIXES:
        return Parsed(
            errors=[RowError(0, 0, f"unsupported file type {suffix or name!r}; use .csv or .jsonl")]
        )
    if not data.strip():
        return Parsed(errors=[RowError(0, 0, "the file is empty: it holds no events")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Parsed(
            errors=[RowError(0, 0, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")]
        )
    parsed = _csv(text) if suffix in CSV_SUFFIXES else _jsonl(text)
    if not parsed.rows and not parsed.errors:
        parsed.errors.append(RowError(0, 0, "the file holds no events"))
    return parsed


def _csv(text: str) -> Parsed:
    parsed = Parsed()
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        parsed.errors.append(RowError(0, 1, "the CSV file has no header row"))
        return parsed
    columns = [CSV_COLUMNS.get(h.strip().lower()) for h in header]
    parsed.ignored_columns = [
        h.strip() for h, c in zip(header, columns, strict=True) if c is None and h.strip()
    ]
    if "email" not in columns and "employee_id" not in columns:
        parsed.errors.append(RowError(0, 1, "the CSV header needs an EmailAddress or EmployeeId column"))
        return parsed
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            number += 1
            parsed.errors.append(RowError(number, reader.line_num, f"unreadable CSV: {exc}"))
            break
        if not any(c.strip() for c in cells):
            continue
        number += 1
        if len(cells) > len(header):
            parsed.errors.append(RowError(number, reader.line_num, "more cells than header columns"))
            continue
        values = {c: cells[i].strip() for i, c in enumerate(columns) if c is not None and i < len(cells)}
        _add(parsed, number, reader.line_num, values)
    return parsed


def _jsonl(text: str) -> Parsed:
    parsed = Parsed()
    number = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        number += 1
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            parsed.errors.append(RowError(number, line_no, "not a JSON object"))
            continue
        if not isinstance(obj, dict):
            parsed.errors.append(RowError(number, line_no, "not a JSON object"))
            continue
        values: dict[str, str] = {}
        problem = None
        for key, value in obj.items():
            api = JSON_KEYS.get(key) or JSON_KEYS.get(key.lower())
            if api is None:
                problem = f"unknown field {key!r}"
                break
            if value is None:
                continue
            if not isinstance(value, str):
                problem = f"{key} must be a string"
                break
            values[api] = value.strip()
        if problem:
            parsed.errors.append(RowError(number, line_no, problem))
            continue
        _add(parsed, number, line_no, values)
    return parsed


def _add(parsed: Parsed, number: int, line: int, values: dict[str, str]) -> None:
    try:
        parsed.rows.append(_row(number, line, values))
    except InvalidInput as exc:
        parsed.errors.append(RowError(number, line, exc.detail))


def _row(number: int, line: int, values: dict[str, str]) -> Row:
    for name, value in values.items():
        check_text(value, name)
    employee = values.get("employee") or values.get("email") or values.get("employee_id")
    if not employee:
        raise InvalidInput("no employee: give EmailAddress or EmployeeId")
    kind = (values.get("type") or "resignation").lower()
    if kind not in EVENT_TYPES:
        raise InvalidInput(f"EventType {values.get('type')!r} is not one of: {', '.join(EVENT_TYPES)}")
    notice = values.get("notice_date")
    last = values.get("last_working_date")
    event = EventInput(
        employee=employee,
        type=kind,
        notice_date=parse_date(notice, field="ResignationDate") if notice else None,
        last_working_date=parse_date(last, field="LastWorkingDate") if last else None,
        successor=values.get("successor") or None,
        idempotency_key=values.get("idempotency_key") or None,
    )
    employee_id = values.get("employee_id") or None
    return Row(number, line, event, also_employee_id=employee_id if employee_id != employee else None)
