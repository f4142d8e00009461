"""Content tokens: short-lived, single-use capabilities for the bytes of one grant.

They are JWTs with their own audience (`guard-content`), signed with HMAC-SHA256 under a key derived from
the vault master key: signing costs microseconds, and an access token (EdDSA, another audience and key)
can never pass for a content token nor the other way round. A token names its grant (`gid`), the person
(`sub`) and that person's token version (`ver`, so revoking someone's sessions kills their content tokens
too); the grant row stores the token's `jti`, and consuming the grant is one conditional UPDATE, which is
what makes a token single-use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from guard.db import new_id
from guard.errors import Gone, Unauthenticated
from guard.keys.material import derive_key

ALGORITHM = "HS256"
AUDIENCE = "guard-content"
REQUIRED = ["sub", "gid", "jti", "ver", "iat", "exp", "aud", "iss"]


@dataclass(frozen=True)
class ContentClaims:
    grant_id: str
    user_id: str
    jti: str
    version: int
    expires_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


class ContentTokenCodec:
    def __init__(self, *, master_key: bytes, issuer: str, lifetime: timedelta) -> None:
        self._key = derive_key(master_key, b"guard content tokens v1")
        self.issuer = issuer
        self.lifetime = lifetime

    def issue(self, *, grant_id: str, user_id: str, token_version: int, now: datetime) -> IssuedToken:
        jti = new_id()
        expires = now + self.lifetime
        claims: dict[str, Any] = {
            "sub": user_id,
            "gid": grant_id,
            "jti": jti,
            "ver": token_version,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "aud": AUDIENCE,
            "iss": self.issuer,
        }
        return IssuedToken(jwt.encode(claims, self._key, algorithm=ALGORITHM), jti, expires)

    def decode(self, token: str, *, now: datetime) -> ContentClaims:
        """Forged or malformed: Unauthenticated (401). Genuine but past its lifetime: Gone (410)."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=self.issuer,
                # Expiry is checked below against Guard's clock, which tests and drills can move.
                options={"require": REQUIRED, "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated("this content link is not valid") from exc
        sub, gid, jti, ver, exp = (claims[k] for k in ("sub", "gid", "jti", "ver", "exp"))
        if not (isinstance(sub, str) and isinstance(gid, str) and isinstance(jti, str)):
            raise Unauthenticated("this content link carries malformed claims")
        if not (isinstance(ver, int) and isinstance(exp, int)):
            raise Unauthenticated("this content link carries malformed claims")
        if exp <= now.timestamp():
            raise Gone("this content link has expired; ask for the request again to get a fresh one")
        return ContentClaims(gid, sub, jti, ver, datetime.fromtimestamp(exp, tz=UTC))
