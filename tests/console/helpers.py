"""Drive the console as a browser would, over HTTP: sign in with the form, read the CSRF token a page
carries, post forms with it."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from tests.support.people import PASSWORD

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(client: TestClient | httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    form = client.get("/console/sign-in")
    assert form.status_code == 200, form.text
    return client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(form.text), "username": username, "password": password, "next": "/console"},
        follow_redirects=False,
    )


def post_form(client: TestClient | httpx.Client, page: str, to: str, **fields: str) -> httpx.Response:
    """Post `fields` to `to` with the CSRF token of `page`, as the page's own form would."""
    token = csrf_of(client.get(page).text)
    return client.post(to, data={"csrf": token, **fields}, follow_redirects=False)
