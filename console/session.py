"""The console's session: the API's own tokens in cookies, and a CSRF token bound to the session.

The access token travels in an `HttpOnly`, `SameSite=Strict` cookie scoped to /console (`Secure` when the
request came over TLS), so a page is authenticated exactly like an API call: signature and expiry first,
then the person's status, holds, token version and revocations in the database. When the access token
has expired the refresh token in its own cookie is rotated, as POST /auth/refresh does, and both cookies
are renewed on the answer. Signing out ends the session server-side (the token family is revoked).

Every state-changing form carries `csrf`, an HMAC of the session's token family under a key derived
from the master key; the sign-in form, which has no session yet, carries a random value that must equal
its own cookie (double submit). `SameSite=Strict` is the second line, not the only one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from fastapi import Request, Response
from starlette.datastructures import FormData

from api.deps import describe_client
from guard.auth import service as auth
from guard.auth.service import Credential, Principal, TokenPair
from guard.auth.throttle import ThrottlePolicy
from guard.db import transaction
from guard.errors import Forbidden, Unauthenticated
from guard.keys.material import derive_key
from guard.runtime import Runtime

ACCESS_COOKIE = "guard_session"
REFRESH_COOKIE = "guard_refresh"
SIGN_IN_COOKIE = "guard_sign_in"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf"
_CSRF_TAG = b"guard console csrf v1"


class SignInNeeded(Unauthenticated):
    """No usable session: the console sends the browser to the sign-in form."""


@lru_cache(maxsize=4)
def csrf_key(master_key: bytes) -> bytes:
    return derive_key(master_key, _CSRF_TAG)


def csrf_token(runtime: Runtime, principal: Principal) -> str:
    family = (principal.family_id or principal.user_id).encode()
    return hmac.new(csrf_key(runtime.keyring.master_key), family, hashlib.sha256).hexdigest()


def check_csrf(runtime: Runtime, principal: Principal, form: FormData) -> None:
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, csrf_token(runtime, principal)):
        raise Forbidden("this form has expired or did not come from Guard's own page; open it again")


def new_sign_in_nonce() -> str:
    return secrets.token_urlsafe(24)


def check_sign_in_nonce(request: Request, form: FormData) -> None:
    sent, kept = form.get(CSRF_FIELD), request.cookies.get(SIGN_IN_COOKIE)
    if not isinstance(sent, str) or not kept or not hmac.compare_digest(sent, kept):
        raise Forbidden("the sign-in form has expired; open it again")


@dataclass(frozen=True)
class Renewed:
    """Tokens issued during this request (a sign-in or a refresh), to be set on the answer."""

    pair: TokenPair


def read_session(request: Request, runtime: Runtime, now: datetime) -> Credential:
    """The session cookie's credential, refreshing an expired access token with the refresh cookie. Read
    once per request: a refresh token rotates on use, so a second refresh would look like a stolen copy."""
    known: Credential | None = getattr(request.state, "credential", None)
    if known is not None:
        return known
    credential = _read_session(request, runtime, now)
    request.state.credential = credential
    return credential


def _read_session(request: Request, runtime: Runtime, now: datetime) -> Credential:
    token = request.cookies.get(ACCESS_COOKIE)
    if token:
        try:
            return auth.bearer_credential(codec=runtime.codec, token=token, now=now)
        except Unauthenticated:
            pass  # expired or signed by a retired key: the refresh token decides
    refresh_token = request.cookies.get(REFRESH_COOKIE)
    if not refresh_token:
        raise SignInNeeded("sign in to continue")
    try:
        with transaction(runtime.db.write) as session:
            pair = auth.refresh(
                session=session,
                codec=runtime.codec,
                refresh_token=refresh_token,
                client=describe_client(request),
                throttle=ThrottlePolicy.from_settings(runtime.settings.auth),
                now=now,
                refresh_lifetime=runtime.refresh_lifetime,
            )
    except Unauthenticated as refused:
        raise SignInNeeded(refused.detail) from refused
    request.state.renewed = Renewed(pair)
    return auth.bearer_credential(codec=runtime.codec, token=pair.access_token, now=now)


def set_session_cookies(request: Request, response: Response, runtime: Runtime, pair: TokenPair) -> None:
    secure = request.url.scheme == "https"
    common = {"httponly": True, "samesite": "strict", "secure": secure, "path": COOKIE_PATH}
    response.set_cookie(ACCESS_COOKIE, pair.access_token, **common)  # type: ignore[arg-type]
    lifetime = int(runtime.refresh_lifetime.total_seconds())
    response.set_cookie(REFRESH_COOKIE, pair.refresh_token, max_age=lifetime, **common)  # type: ignore[arg-type]


def clear_session_cookies(response: Response) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict")
