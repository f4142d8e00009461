"""The main navigation, by role. The link names are part of the console's contract (docs/console.md)."""

from __future__ import annotations

from dataclasses import dataclass

from guard.auth.service import Principal
from guard.types import Role


@dataclass(frozen=True)
class Link:
    name: str
    href: str
    roles: tuple[str, ...] = ()  # empty: everyone signed in


LINKS = (
    Link("Home", "/console"),
    Link("Documents", "/console/documents"),
    Link("Requests", "/console/requests"),
    Link("Alerts", "/console/alerts", (Role.SECURITY,)),
    Link("Audit log", "/console/audit", (Role.SECURITY,)),
    Link("Leavers", "/console/leavers", (Role.SECURITY, Role.HR)),
    Link("People", "/console/people", (Role.SECURITY, Role.ADMIN, Role.HR)),
    Link("Rules", "/console/rules", (Role.SECURITY, Role.ADMIN)),
)


def links_for(principal: Principal) -> list[Link]:
    return [link for link in LINKS if not link.roles or principal.has_any(*link.roles)]
