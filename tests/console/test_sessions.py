"""The console's session is the API's session in a cookie: the same checks on every page, CSRF on every
form, and sign-out that ends it on the server."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guard.access.models import AccessRequest
from guard.clock import FixedClock
from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.console.helpers import csrf_of, post_form, sign_in
from tests.hr.helpers import audit
from tests.support.people import People

NEW_PASSWORD = "tangerine-harbour-quietly-41"


def _requests(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return session.scalar(select(func.count()).select_from(AccessRequest)) or 0


def test_the_sign_in_cookie_is_http_only_same_site_strict_and_scoped_to_the_console(
    client: TestClient, broker: Broker
) -> None:
    broker.person("ann")
    answer = sign_in(client, "ann")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"
    cookies = [
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("guard_session=")
    ]
    assert len(cookies) == 1
    assert "HttpOnly" in cookies[0]
    assert "SameSite=strict" in cookies[0]
    assert "Path=/console" in cookies[0]
    home = client.get("/console")
    assert home.status_code == 200
    assert "ann" in home.text


def test_a_wrong_password_shows_the_form_again_and_is_recorded(
    client: TestClient, broker: Broker, runtime: Runtime
) -> None:
    broker.person("ann")
    answer = sign_in(client, "ann", "not-the-password")
    assert answer.status_code == 401
    assert "wrong username or password" in answer.text
    assert 'name="password"' in answer.text
    assert [e["target"] for e in audit(runtime, "auth.login_failed")] == ["user:ann"]
    assert client.get("/console", follow_redirects=False).headers["location"].startswith("/console/sign-in")


def test_the_sign_in_form_needs_its_own_token(client: TestClient, broker: Broker, runtime: Runtime) -> None:
    broker.person("ann")
    before = len(audit(runtime, "auth.login", actor="ann"))  # the API login that created the person
    client.get("/console/sign-in")
    forged = client.post(
        "/console/sign-in",
        data={"csrf": "made-up", "username": "ann", "password": "a-long-test-password"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert len(audit(runtime, "auth.login", actor="ann")) == before
    assert "guard_session" not in client.cookies


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(
    client: TestClient, broker: Broker, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    sign_in(client, "ann")
    before = _requests(runtime)
    for token in ({}, {"csrf": "0" * 64}):
        refused = client.post(
            f"/console/documents/{document}/request",
            data={"reason": "quarterly review", "action": "view", **token},
            follow_redirects=False,
        )
        assert refused.status_code == 403
        assert "did not come from Guard&#39;s own page" in refused.text
    assert _requests(runtime) == before
    accepted = post_form(
        client,
        f"/console/documents/{document}",
        f"/console/documents/{document}/request",
        reason="preparing the quarterly review",
    )
    assert accepted.status_code == 303
    assert _requests(runtime) == before + 1


def test_the_csrf_token_of_one_session_does_not_work_in_another(client: TestClient, broker: Broker) -> None:
    ann = broker.person("ann")
    document = broker.upload(broker.customer(ann))
    sign_in(client, "ann")
    first = csrf_of(client.get(f"/console/documents/{document}").text)
    client.cookies.clear()
    sign_in(client, "ann")
    second = csrf_of(client.get(f"/console/documents/{document}").text)
    assert first != second
    stale = client.post(
        f"/console/documents/{document}/request",
        data={"csrf": first, "reason": "preparing the quarterly review", "action": "view"},
        follow_redirects=False,
    )
    assert stale.status_code == 403


def test_a_suspended_persons_session_is_refused_on_the_next_page(
    client: TestClient, broker: Broker, people: People
) -> None:
    ann = broker.person("ann")
    sign_in(client, "ann")
    assert client.get("/console/documents").status_code == 200
    held = client.post(
        f"/users/{ann.id}/holds",
        json={"kind": "suspended", "reason": "investigation"},
        headers=people.admin.auth,
    )
    assert held.status_code == 201, held.text
    refused = client.get("/console/documents", follow_redirects=False)
    assert refused.status_code == 303
    assert refused.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fdocuments"


def test_signing_out_ends_the_session_on_the_server(client: TestClient, broker: Broker) -> None:
    broker.person("ann")
    sign_in(client, "ann")
    kept = dict(client.cookies)
    out = post_form(client, "/console", "/console/sign-out")
    assert out.status_code == 303
    for name, value in kept.items():  # a copy of the cookies taken before signing out
        client.cookies.set(name, value, path="/console")
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_an_expired_access_token_is_renewed_from_the_refresh_cookie(
    client: TestClient, broker: Broker, clock: FixedClock, runtime: Runtime
) -> None:
    broker.person("ann")
    sign_in(client, "ann")
    old = client.cookies.get("guard_session")
    clock.advance(timedelta(minutes=runtime.settings.auth.access_token_minutes + 5))
    page = client.get("/console/documents", follow_redirects=False)
    assert page.status_code == 200
    assert client.cookies.get("guard_session") not in (None, old)
    assert [e["actor"] for e in audit(runtime, "auth.refresh")] == ["ann"]
    assert client.get("/console/requests").status_code == 200  # the renewed pair works


def test_pages_carry_a_strict_content_security_policy_and_no_inline_script(
    client: TestClient, broker: Broker
) -> None:
    broker.person("sec", "security")
    sign_in(client, "sec")
    for path in ("/console", "/console/alerts", "/console/audit", "/console/leavers", "/console/people"):
        page = client.get(path)
        assert page.status_code == 200, path
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        for tag in page.text.split("<script")[1:]:
            opening = tag.split(">", 1)[0]
            assert "src=" in opening or 'type="application/json"' in opening, (path, opening)


def test_a_page_outside_ones_roles_says_who_it_is_for(client: TestClient, broker: Broker) -> None:
    broker.person("ann")
    sign_in(client, "ann")
    page = client.get("/console/alerts")
    assert page.status_code == 403
    assert "this page is for: security" in page.text
    home = client.get("/console").text
    shown = {
        name for name in ("Documents", "Requests", "Alerts", "Audit log", "Leavers") if f">{name}<" in home
    }
    assert shown == {"Documents", "Requests"}


def test_a_next_address_off_the_console_is_not_followed(client: TestClient, broker: Broker) -> None:
    broker.person("ann")
    form = client.get("/console/sign-in")
    answer = client.post(
        "/console/sign-in",
        data={
            "csrf": csrf_of(form.text),
            "username": "ann",
            "password": "a-long-test-password",
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/console"


def test_after_an_admins_reset_every_page_leads_to_choosing_a_new_password(
    client: TestClient, broker: Broker, people: People, runtime: Runtime
) -> None:
    ann = broker.person("ann")
    reset = client.post(f"/users/{ann.id}/password-reset", headers=people.admin.auth)
    assert reset.status_code == 200, reset.text
    temporary = reset.json()["temporary_password"]
    assert sign_in(client, "ann", temporary).status_code == 303
    sent = client.get("/console/documents", follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/console/password"
    mismatch = post_form(
        client,
        "/console/password",
        "/console/password",
        current_password=temporary,
        new_password=NEW_PASSWORD,
        repeat_password=NEW_PASSWORD + "x",
    )
    assert mismatch.status_code == 422
    changed = post_form(
        client,
        "/console/password",
        "/console/password",
        current_password=temporary,
        new_password=NEW_PASSWORD,
        repeat_password=NEW_PASSWORD,
    )
    assert changed.status_code == 303
    assert client.get("/console/documents").status_code == 200  # the new session's cookies work
    client.cookies.clear()
    assert sign_in(client, "ann", NEW_PASSWORD).status_code == 303
    assert [e["actor"] for e in audit(runtime, "user.password_change")] == ["ann"]
