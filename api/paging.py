"""List pages over HTTP: the body stays a list; the next page and the total travel in headers
(`X-Next-Cursor`, `Link: <...>; rel="next"`, `X-Total-Count`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from guard.paging import MAX_LIMIT, Page, PageRequest, paging_key

CursorQuery = Annotated[
    str | None, Query(max_length=400, description="from the previous page's X-Next-Cursor header")
]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")]
PAGE_HEADERS = {
    "X-Next-Cursor": {
        "description": "the cursor of the next page; absent on the last",
        "schema": {"type": "string"},
    },
    "X-Total-Count": {"description": "rows matching the filters", "schema": {"type": "integer"}},
    "Link": {"description": 'RFC 8288 link to the next page (rel="next")', "schema": {"type": "string"}},
}
PAGED: dict[int | str, dict[str, Any]] = {200: {"headers": PAGE_HEADERS}}


def page_request(master_key: bytes, cursor: str | None, limit: int, offset: int = 0) -> PageRequest:
    return PageRequest(key=paging_key(master_key), cursor=cursor or None, limit=limit, offset=offset)


def send_page(request: Request, response: Response, page: Page[Any]) -> None:
    if page.total is not None:
        response.headers["X-Total-Count"] = str(page.total)
    if page.next_cursor:
        response.headers["X-Next-Cursor"] = page.next_cursor
        url = request.url.include_query_params(cursor=page.next_cursor)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
