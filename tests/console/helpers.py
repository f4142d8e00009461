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


def form_on(html: str, to: str) -> str:
    """The HTML of the page's form that posts to `to` (the page must offer it)."""
    for form in html.split("<form")[1:]:
        if f'action="{to}"' in form.split(">", 1)[0]:
            return form.split("</form>", 1)[0]
    raise AssertionError(f"the page has no form posting to {to}")


def post_form(client: TestClient | httpx.Client, page: str, to: str, **fields: str) -> httpx.Response:
    """Post `fields` to `to` with the CSRF token that the form on `page` posting there carries."""
    token = csrf_of(form_on(client.get(page).text, to))
    return client.post(to, data={"csrf": token, **fields}, follow_redirects=False)
