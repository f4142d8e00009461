"""The console in a real Chromium against a real `guard serve`: the journeys of staff, approvers,
security and HR, the refusals (a form without its CSRF token, a suspended person's session), and the
network log: nothing loads from another origin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from guard.runtime import Runtime
from tests.browser.console_world import REASON, World, build_world, nav, sign_in
from tests.support.live import live_server


@pytest.fixture
def world(runtime: Runtime, guard_home: Path, db_url: str) -> Iterator[World]:
    with live_server(guard_home, db_url) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield build_world(base, http, runtime)


class Watched:
    """A browser context whose every request, failure and CSP complaint is kept."""

    def __init__(self, browser: Browser, **options: object) -> None:
        self.context: BrowserContext = browser.new_context(**options)  # type: ignore[arg-type]
        self.requested: list[str] = []
        self.failed: list[str] = []
        self.blocked: list[str] = []
        self.context.on("request", lambda request: self.requested.append(request.url))
        self.context.on("requestfailed", lambda request: self.failed.append(request.url))
        self.context.on(
            "console",
            lambda message: self.blocked.append(message.text) if "Content Security" in message.text else None,
        )

    def origins(self) -> set[str]:
        return {urlsplit(url).netloc for url in self.requested if not url.startswith(("data:", "about:"))}


def test_staff_request_a_document_open_the_watermarked_copy_and_the_fourth_look_goes_to_an_approver(
    browser: Browser, world: World
) -> None:
    staff = Watched(browser)
    page = sign_in(staff.context, world.base, "ann")
    for look in range(1, 5):
        nav(page, "Documents")
        page.get_by_label("Title").fill("account plan")
        page.get_by_role("button", name="Search").click()
        page.get_by_role("link", name="Acme account plan 2027").click()
        expect(page.locator("#looks-left")).to_have_text(str(3 - min(look - 1, 3)))
        page.get_by_label("Reason").fill(REASON)
        page.get_by_label("Place").fill("client site")
        page.get_by_role("button", name="Request").click()
        if look < 4:
            copy = page.frame_locator("iframe[title='Granted copy']").locator("body")
            expect(copy).to_contain_text("Acme buys 300 units a year.")
            expect(copy).to_contain_text("Copy for ann at")  # the watermark, in the copy itself
        else:
            expect(page.locator("#request-state")).to_have_text("pending")
    pending = page.url
    approver = Watched(browser)
    queue = sign_in(approver.context, world.base, "alice")
    nav(queue, "Requests")
    row = queue.get_by_role("row").filter(has_text=REASON)
    expect(row).to_contain_text("ann")
    expect(row).to_contain_text("Acme account plan 2027")
    row.get_by_label("Note for ann's request").fill("one more look for the review")
    row.get_by_role("button", name="Approve").click()
    expect(queue.get_by_role("status")).to_contain_text("Approved; the request is now granted")
    expect(queue.get_by_text("Nothing is waiting.")).to_be_visible()
    page.goto(pending)
    expect(page.locator("#request-state")).to_have_text("granted")
    expect(page.frame_locator("iframe[title='Granted copy']").locator("body")).to_contain_text("Copy for ann")
    for watched in (staff, approver):
        assert watched.origins() == {urlsplit(world.base).netloc}
        assert watched.failed == []
        assert watched.blocked == []
        watched.context.close()


def test_security_works_a_leavers_alert_from_the_home_page_to_resolution(
    browser: Browser, world: World
) -> None:
    analyst = Watched(browser, accept_downloads=True)
    page = sign_in(analyst.context, world.base, "sec")
    notice = page.get_by_role("region", name="People on notice")
    expect(notice.get_by_role("row").filter(has_text="leo")).to_contain_text("1")  # one open alert
    page.get_by_role("link", name="honeytoken", exact=False).first.click()
    expect(page.get_by_role("heading", name="Why this alert")).to_be_visible()
    evidence = page.get_by_role("region", name="Evidence")
    expect(evidence).to_contain_text("Globex renewal pricing")
    evidence.get_by_role("link").first.click()
    expect(page.locator("#coverage")).to_be_visible()
    expect(page.get_by_text("Previous hash")).to_be_visible()
    page.get_by_role("link", name="More from leo").click()
    expect(page.get_by_role("cell", name="access.view").first).to_be_visible()
    page.goto(f"{world.base}/console/alerts/{world.alert_id}")
    page.get_by_role("link", name="leaver case").click()
    expect(page.get_by_role("region", name="Customers touched")).to_contain_text("Globex")
    expect(page.get_by_role("region", name="Reasons given")).to_contain_text("checking the renewal")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the exposure report (CSV)").click()
    saved = download.value.path()
    assert "Globex" in Path(saved).read_text()
    page.goto(f"{world.base}/console/alerts/{world.alert_id}")
    page.get_by_label("Assign to").select_option("tess")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("region", name="Why this alert")).to_contain_text("tess")
    page.get_by_label("Verdict").select_option("true_positive")
    page.get_by_label("Reason").fill("opened a decoy during the notice period")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".lead")).to_contain_text("resolved")
    expect(page.get_by_role("region", name="History")).to_contain_text(
        "opened a decoy during the notice period"
    )
    assert analyst.origins() == {urlsplit(world.base).netloc}
    assert analyst.blocked == []
    analyst.context.close()


def test_hr_files_a_resignation_and_sees_the_person_on_notice_with_their_handover(
    browser: Browser, world: World
) -> None:
    hr = Watched(browser)
    page = sign_in(hr.context, world.base, "helen")
    nav(page, "Leavers")
    page.get_by_label("Event").select_option("resignation")
    page.get_by_label("Employee").fill("ann")
    page.get_by_label("Last working day").fill("2030-01-31")
    page.get_by_label("Successor").fill("bob")
    page.get_by_role("button", name="Report").click()
    expect(page.get_by_role("status")).to_contain_text("resignation of ann recorded; status now notice")
    row = page.get_by_role("region", name="On notice").get_by_role("row").filter(has_text="(ann)")
    expect(row).to_contain_text("2030-01-31")
    expect(row).to_contain_text("0 of 1 acknowledged by bob")
    assert hr.blocked == []
    hr.context.close()


def test_a_form_without_its_csrf_token_is_refused_and_a_suspended_session_ends_on_the_next_page(
    browser: Browser, world: World
) -> None:
    staff = Watched(browser)
    page = sign_in(staff.context, world.base, "ann")
    page.goto(f"{world.base}/console/documents/{world.plan}")
    page.locator("form[action$='/request'] input[name=csrf]").evaluate("input => input.remove()")
    page.get_by_label("Reason").fill(REASON)
    page.get_by_role("button", name="Request").click()
    expect(page.get_by_role("alert")).to_contain_text("did not come from Guard's own page")
    mine = world.api(world.broker.people.login("ann"), "GET", "/access-requests", params={"mine": "true"})
    assert mine.json() == []  # nothing was asked for
    ann_id = world.api(world.admin, "GET", "/users").json()
    [ann] = [u for u in ann_id if u["username"] == "ann"]
    held = world.api(
        world.admin, "POST", f"/users/{ann['id']}/holds", json={"kind": "suspended", "reason": "inquiry"}
    )
    assert held.status_code == 201, held.text
    nav(page, "Requests")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert "/console/sign-in" in page.url
    staff.context.close()
