"""Keyset paging for the list endpoints: stable pages under inserts, opaque signed cursors.

A cursor carries the sort key of the last row handed out and a fingerprint of the list's filters, signed
with a key derived from the master key: a cursor cannot be forged, nor reused with other filters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from guard.errors import InvalidInput
from guard.keys.material import derive_key

_TAG = b"guard-list-cursor-v1"
MAX_LIMIT = 1000
T = TypeVar("T")
KeyValue = str | int | datetime


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
    total: int | None


@dataclass(frozen=True)
class PageRequest:
    """What the caller asked for: the previous page's cursor (or none), rows per page, the signing key."""

    key: bytes
    cursor: str | None = None
    limit: int = 100
    offset: int = 0  # the older way to page, kept where an endpoint offered it; not with a cursor


@lru_cache(maxsize=4)
def paging_key(master_key: bytes) -> bytes:
    """A key of its own for cursors, derived from the master key (never used directly for two things)."""
    return derive_key(master_key, _TAG)


@dataclass(frozen=True)
class Keyset:
    """The sort of a list: columns that together are unique (the last one an id), all one direction."""

    columns: Sequence[ColumnElement[Any] | QueryableAttribute[Any]]
    descending: bool = False

    def order(self) -> list[ColumnElement[Any]]:
        return [c.desc() if self.descending else c.asc() for c in self.columns]

    def after(self, values: Sequence[KeyValue]) -> ColumnElement[bool]:
        """Rows strictly after `values` in this order: (a > x) or (a = x and b > y) ..."""
        clauses = []
        for i, column in enumerate(self.columns):
            beyond = column < values[i] if self.descending else column > values[i]
            equal = [self.columns[j] == values[j] for j in range(i)]
            clauses.append(and_(*equal, beyond))
        return or_(*clauses)


def fingerprint(scope: str, filters: Mapping[str, object]) -> str:
    """What a cursor is bound to: its list and the filters (and order) it was made for."""
    digest = hashlib.sha256(orjson.dumps([scope, filters], option=orjson.OPT_SORT_KEYS, default=str))
    return digest.hexdigest()[:16]


def sign_cursor(key: bytes, values: Sequence[KeyValue], bound_to: str) -> str:
    """An opaque cursor for the row whose sort key is `values`."""
    typed = [["d", v.isoformat()] if isinstance(v, datetime) else ["v", v] for v in values]
    body = orjson.dumps([bound_to, typed])
    mac = hmac.new(key, _TAG + body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac + body).rstrip(b"=").decode()


def read_cursor(key: bytes, cursor: str, bound_to: str, width: int) -> list[KeyValue]:
    """The sort key a cursor carries; a 422 for one this server did not sign, or signed for another
    list or other filters."""
    unknown = InvalidInput("the cursor is not one this server handed out; start again without it")
    try:
        raw = base64.urlsafe_b64decode(cursor.strip() + "=" * (-len(cursor.strip()) % 4))
    except ValueError:
        raise unknown from None
    mac, body = raw[:16], raw[16:]
    if not hmac.compare_digest(mac, hmac.new(key, _TAG + body, hashlib.sha256).digest()[:16]):
        raise unknown
    printed, typed = orjson.loads(body)
    if printed != bound_to:
        raise InvalidInput("the cursor belongs to another list or to other filters; start again without it")
    if len(typed) != width:
        raise unknown
    return [datetime.fromisoformat(v) if kind == "d" else v for kind, v in typed]


def paginate(
    *,
    session: Session,
    query: Select[*tuple[Any, ...]],
    keyset: Keyset,
    key_of: Callable[[Any], Sequence[KeyValue]],
    request: PageRequest,
    scope: str,
    filters: Mapping[str, object],
) -> Page[Any]:
    """One page of `query` (rows as session.execute returns them) and the cursor of the next, if any.
    `total` counts every row the filters match (not only the rest)."""
    if not 1 <= request.limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if request.cursor and request.offset:
        raise InvalidInput("page with cursor or with offset, not both")
    bound_to = fingerprint(scope, filters)
    query = query.order_by(None)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    if request.cursor:
        query = query.where(
            keyset.after(read_cursor(request.key, request.cursor, bound_to, len(keyset.columns)))
        )
    query = query.order_by(*keyset.order()).offset(request.offset or None).limit(request.limit + 1)
    rows = list(session.execute(query))
    more = len(rows) > request.limit
    rows = rows[: request.limit]
    next_cursor = sign_cursor(request.key, key_of(rows[-1]), bound_to) if more and rows else None
    return Page(rows, next_cursor, total)
