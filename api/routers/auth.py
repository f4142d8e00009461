"""Login, refresh, logout and the caller's own profile."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.deps import ClientDep, GuardRoute, NowDep, PrincipalDep, RuntimeDep, SessionDep
from api.routers.users import UserOut, user_out
from api.schemas import Strict
from guard.auth import service, throttle
from guard.auth.sign_in import change_own_password, password_login
from guard.people.service import get_user
from guard.types import Role

router = APIRouter(tags=["auth"], route_class=GuardRoute)


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int
    # After an admin's reset: until POST /me/password, every other call answers 403.
    password_change_required: bool = False


class PasswordChangeIn(Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


def _pair_out(pair: service.TokenPair) -> TokenPairOut:
    return TokenPairOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        password_change_required=pair.password_change_required,
    )


@router.post("/auth/login", response_model=TokenPairOut)
def login(
    body: LoginIn, session: SessionDep, runtime: RuntimeDep, client: ClientDep, now: NowDep
) -> TokenPairOut:
    pair = password_login(
        session=session,
        runtime=runtime,
        username=body.username,
        password=body.password,
        client=client,
        now=now,
    )
    return _pair_out(pair)


@router.post("/auth/refresh", response_model=TokenPairOut)
def refresh(
    body: RefreshIn, session: SessionDep, runtime: RuntimeDep, client: ClientDep, now: NowDep
) -> TokenPairOut:
    pair = service.refresh(
        session=session,
        codec=runtime.codec,
        refresh_token=body.refresh_token,
        client=client,
        throttle=throttle.ThrottlePolicy.from_settings(runtime.settings.auth),
        now=now,
        refresh_lifetime=runtime.refresh_lifetime,
    )
    return _pair_out(pair)


@router.post("/auth/logout", status_code=204)
def logout(principal: PrincipalDep, session: SessionDep, now: NowDep) -> Response:
    service.logout(session=session, principal=principal, now=now)
    return Response(status_code=204)


@router.post("/auth/logout-all", status_code=204)
def logout_everywhere(principal: PrincipalDep, session: SessionDep, now: NowDep) -> Response:
    service.logout_everywhere(session=session, principal=principal, now=now)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut)
def me(principal: PrincipalDep, session: SessionDep) -> UserOut:
    user = get_user(session=session, user_id=principal.user_id)
    return user_out(user, session=session, full=principal.has_any(Role.ADMIN, Role.SECURITY))


@router.post("/me/password", response_model=TokenPairOut)
def change_password(
    body: PasswordChangeIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    now: NowDep,
) -> TokenPairOut:
    """Change one's own password. Every session ends, this one too; the answer is a new session's tokens."""
    pair = change_own_password(
        session=session,
        runtime=runtime,
        user_id=principal.user_id,
        current_password=body.current_password,
        new_password=body.new_password,
        client=client,
        now=now,
    )
    return _pair_out(pair)
