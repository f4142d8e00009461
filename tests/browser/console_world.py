"""A small company in a real `guard serve`, built through the API, for the console's browser tests: a
staff member with a customer, an approver, two security analysts, an HR officer, and a leaver who has
opened a decoy document (so security has an alert to work)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Page

from guard.runtime import Runtime
from tests.broker.helpers import Broker
from tests.support.people import PASSWORD, People, Person

REASON = "preparing the quarterly review with Acme"


@dataclass
class World:
    base: str
    http: httpx.Client
    broker: Broker
    plan: str  # the staff member's document
    decoy: str
    leaver: Person
    alert_id: str

    @property
    def admin(self) -> Person:
        return self.broker.people.admin

    def api(self, person: Person, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers=person.auth, **kwargs)


def build_world(base: str, http: httpx.Client, runtime: Runtime) -> World:
    broker = Broker(http, People(http, runtime))  # type: ignore[arg-type]
    ann = broker.person("ann", department="Sales")
    broker.person("alice", "approver")
    broker.person("sec", "security")
    broker.person("tess", "security")
    broker.people.add("helen", "hr", login=False)
    leo = broker.person("leo", department="Sales")
    broker.person("bob", department="Sales")
    acme = broker.customer(ann, "Acme Corp")
    plan = broker.upload(acme, title="Acme account plan 2027", content=b"Acme buys 300 units a year.\n")
    broker.upload(acme, title="Acme price list")
    globex = broker.customer(leo, "Globex")
    broker.upload(globex, title="Globex contract")
    today = datetime.now(UTC).date()
    hr = broker.people.login("helen")
    resigned = http.post(
        "/hr/events",
        json={
            "employee": "leo",
            "type": "resignation",
            "notice_date": today.isoformat(),
            "last_working_date": (today + timedelta(days=21)).isoformat(),
            "successor": "bob",
        },
        headers=hr.auth,
    )
    assert resigned.status_code == 202, resigned.text
    decoy = http.post(
        "/documents",
        data={
            "customer_id": globex,
            "title": "Globex renewal pricing",
            "classification": "internal",
            "honeytoken": "true",
        },
        files={"file": ("pricing.txt", b"decoy\n", "text/plain")},
        headers=broker.people.login("sec").auth,
    )
    assert decoy.status_code == 201, decoy.text
    leo = broker.people.login("leo")
    broker.ask(leo, decoy.json()["id"], reason="checking the renewal before I hand over")
    return World(base, http, broker, plan, decoy.json()["id"], leo, _wait_for_alert(http, broker, "leo"))


def _wait_for_alert(http: httpx.Client, broker: Broker, username: str) -> str:
    security = broker.people.login("tess")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = http.get("/alerts", params={"user": username}, headers=security.auth).json()
        if found:
            return str(found[0]["id"])
        time.sleep(0.25)
    raise AssertionError(f"no alert about {username} within a minute")


def sign_in(context: BrowserContext, base: str, username: str) -> Page:
    page = context.new_page()
    page.goto(f"{base}/console")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").wait_for()
    return page


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()
    page.wait_for_load_state()
