"""Each main page of the console passes an automated accessibility check (axe-core, from the npm
packages `make` installs) with no serious or critical violation, and its screenshot is saved to
docs/console/ for the README."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.console_world import World, sign_in
from tests.browser.test_console import world  # noqa: F401 (the fixture)

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "docs" / "console"
SERIOUS = {"serious", "critical"}


def violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in found
        if v["impact"] in SERIOUS
    ]


def check(page: Page, url: str, name: str, problems: dict[str, Any]) -> None:
    answer = page.goto(url)
    assert answer is not None
    assert answer.status == 200, (name, answer.status)
    page.wait_for_load_state("networkidle")
    found = violations(page)
    if found:
        problems[name] = found
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the pages are the same on both engines
def test_every_main_page_has_no_serious_accessibility_violation(browser: Browser, world: World) -> None:  # noqa: F811
    ann = world.broker.people.login("ann")
    for _ in range(4):  # three looks, then one waiting for an approver
        world.broker.ask(ann, world.plan)
    base = world.base
    # axe is injected as a script of its own: only this checking context lifts the page's script policy.
    options: dict[str, Any] = {"bypass_csp": True, "viewport": {"width": 1280, "height": 900}}
    problems: dict[str, Any] = {}
    anonymous = browser.new_context(**options).new_page()
    check(anonymous, f"{base}/console/sign-in", "sign-in", problems)
    staff = sign_in(browser.new_context(**options), base, "ann")
    check(staff, f"{base}/console/documents", "documents", problems)
    check(staff, f"{base}/console/documents/{world.plan}", "document", problems)
    check(staff, f"{base}/console/password", "password", problems)
    check(staff, f"{base}/console/agreement", "agreement", problems)
    fresh = world.broker.ask(world.broker.people.login("bob"), world.plan)
    bob = sign_in(browser.new_context(**options), base, "bob")
    check(bob, f"{base}/console/requests/{fresh['id']}", "viewer", problems)
    approver = sign_in(browser.new_context(**options), base, "alice")
    check(approver, f"{base}/console/requests", "requests", problems)
    security = sign_in(browser.new_context(**options), base, "sec")
    check(security, f"{base}/console", "home", problems)
    check(security, f"{base}/console/alerts", "alerts", problems)
    check(security, f"{base}/console/alerts/{world.alert_id}", "alert", problems)
    check(security, f"{base}/console/audit", "audit", problems)
    check(security, f"{base}/console/audit/1", "audit-entry", problems)
    check(security, f"{base}/console/leavers/leo", "leaver-case", problems)
    check(security, f"{base}/console/people", "people", problems)
    check(security, f"{base}/console/people/leo", "person", problems)
    check(security, f"{base}/console/rules", "rules", problems)
    hr = sign_in(browser.new_context(**options), base, "helen")
    check(hr, f"{base}/console/leavers", "leavers", problems)
    assert problems == {}
