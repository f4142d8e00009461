"""Create people and log them in through the real API."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from guard.db import transaction
from guard.people.roles import grant_on_host
from guard.people.service import POWERFUL_ROLES, create_user, get_user
from guard.runtime import Runtime

PASSWORD = "a-long-test-password"


@dataclass
class Person:
    id: str
    username: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class People:
    def __init__(self, client: TestClient, runtime: Runtime) -> None:
        self.client = client
        self.runtime = runtime
        self._admin: Person | None = None

    def login(self, username: str, password: str = PASSWORD) -> Person:
        response = self.client.post("/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        body = response.json()
        me = self.client.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
        return Person(me["id"], username, body["access_token"], body["refresh_token"])

    @property
    def admin(self) -> Person:
        """The first admin, created directly (as `guard init` does), then logged in through the API."""
        if self._admin is None:
            with transaction(self.runtime.db.write) as session:
                create_user(
                    session=session,
                    actor="test",
                    username="root",
                    display_name="Root",
                    email="root@example.com",
                    roles=["admin"],
                    password=PASSWORD,
                    passwords=self.runtime.passwords,
                    now=self.runtime.clock.now(),
                    on_host=True,
                )
            self._admin = self.login("root")
        return self._admin

    def refresh_admin(self) -> Person:
        """Log the admin in again, after a test moved the clock past the token's lifetime."""
        self._admin = self.login(self.admin.username)
        return self._admin

    def add(self, username: str, *roles: str, login: bool = True, **fields: str) -> Person:
        """Through the API; the admin and security roles, which the API gives only with a second admin,
        are then granted as on the host (`guard users grant`)."""
        powerful = [r for r in roles if r in POWERFUL_ROLES]
        body = {
            "username": username,
            "display_name": username.title(),
            "email": f"{username}@example.com",
            "roles": [r for r in roles if r not in POWERFUL_ROLES] or ["staff"],
            "password": PASSWORD,
            **fields,
        }
        response = self.client.post("/users", json=body, headers=self.admin.auth)
        assert response.status_code == 201, response.text
        if powerful:
            with transaction(self.runtime.db.write) as session:
                user = get_user(session=session, user_id=response.json()["id"])
                placeholder = [] if len(powerful) < len(roles) else ["staff"]  # only there to create them
                grant_on_host(
                    session=session,
                    actor="test",
                    user=user,
                    add=powerful,
                    remove=placeholder,
                    now=self.runtime.clock.now(),
                )
        if login:
            return self.login(username)
        return Person(response.json()["id"], username, "", "")
