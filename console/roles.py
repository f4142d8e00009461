"""Role checks for console pages: the same roles the API's endpoints ask for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends

from console.deps import Poster, SignedIn
from guard.auth.service import Principal
from guard.errors import Forbidden
from guard.types import Role


def _viewer(*roles: str) -> Callable[[Principal], Principal]:
    def check(principal: SignedIn) -> Principal:
        if not principal.has_any(*roles):
            raise Forbidden(f"this page is for: {', '.join(roles)}")
        return principal

    return check


def _poster(*roles: str) -> Callable[[Principal], Principal]:
    def check(principal: Poster) -> Principal:
        if not principal.has_any(*roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
        return principal

    return check


SecurityViewer = Annotated[Principal, Depends(_viewer(Role.SECURITY))]
SecurityPoster = Annotated[Principal, Depends(_poster(Role.SECURITY))]
ReviewerViewer = Annotated[Principal, Depends(_viewer(Role.SECURITY, Role.HR))]
HrPoster = Annotated[Principal, Depends(_poster(Role.HR))]
PeopleViewer = Annotated[Principal, Depends(_viewer(Role.SECURITY, Role.ADMIN, Role.HR))]
SecurityOrAdminPoster = Annotated[Principal, Depends(_poster(Role.SECURITY, Role.ADMIN))]
RulesViewer = Annotated[Principal, Depends(_viewer(Role.SECURITY, Role.ADMIN))]
AdminPoster = Annotated[Principal, Depends(_poster(Role.ADMIN))]
