"""Access tokens: EdDSA-signed JWTs with a `kid` from a fixed key set and one accepted algorithm."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from guard.db import new_id
from guard.errors import Unauthenticated
from guard.keys import SigningKey

ALGORITHM = "EdDSA"
UNTRUSTED_KEY = "the access token was signed by a key that is not trusted (retired or unknown)"
REQUIRED_CLAIMS = ["sub", "iat", "exp", "aud", "iss", "jti", "ver"]


@dataclass(frozen=True)
class AccessClaims:
    sub: str
    jti: str
    ver: int
    fam: str | None
    exp: datetime
    # How the session's token was obtained: "password" (a login) or "refresh"; None in tokens made before
    # Guard recorded it.
    via: str | None = None
    kid: str = ""  # the key that signed it


class UnknownSigningKey(Unauthenticated):
    """The token names a key this process does not trust (unknown, retired or made elsewhere just now)."""


class TokenCodec:
    def __init__(
        self,
        *,
        signing: SigningKey,
        public_keys: dict[str, Ed25519PublicKey],
        issuer: str,
        audience: str,
        lifetime: timedelta,
        leeway: timedelta,
    ) -> None:
        self._signing = signing
        self._public = dict(public_keys)
        self._lock = threading.Lock()
        # Set by the runtime: reloads the key set when a token names a key made on another host meanwhile.
        self.on_unknown_key: Callable[[], object] | None = None
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        self.leeway = leeway

    @property
    def key_ids(self) -> tuple[str, frozenset[str]]:
        """(the signing key id, the key ids trusted for verification)."""
        return self._signing.kid, frozenset(self._public)

    def replace_keys(self, *, signing: SigningKey, public_keys: dict[str, Ed25519PublicKey]) -> None:
        """Sign with `signing` and trust only `public_keys` from now on (a rotation or a retirement in the
        database). Tokens verified earlier are forgotten, so one signed by a retired key is refused."""
        with self._lock:
            self._public = dict(public_keys)
            self._signing = signing
            self._verified.cache_clear()

    def issue(
        self, *, user_id: str, token_version: int, family_id: str | None, via: str, now: datetime
    ) -> tuple[str, str]:
        jti = new_id()
        claims: dict[str, Any] = {
            "sub": user_id,
            "iat": int(now.timestamp()),
            "exp": int((now + self.lifetime).timestamp()),
            "aud": self.audience,
            "iss": self.issuer,
            "jti": jti,
            "ver": token_version,
            "via": via,
        }
        if family_id:
            claims["fam"] = family_id
        token = jwt.encode(
            claims, self._signing.private, algorithm=ALGORITHM, headers={"kid": self._signing.kid}
        )
        return token, jti

    def decode(self, token: str, *, now: datetime) -> AccessClaims:
        """Verify signature and claims (memoised per token string), then expiry against `now`."""
        try:
            claims = self._verified(token)
        except UnknownSigningKey:
            if self.on_unknown_key is None:
                raise
            self.on_unknown_key()
            claims = self._verified(token)
        if claims.kid not in self._public:  # retired since it was verified
            raise Unauthenticated(UNTRUSTED_KEY)
        if claims.exp.timestamp() + self.leeway.total_seconds() < now.timestamp():
            raise Unauthenticated("the access token has expired; refresh it or log in again")
        return claims

    @lru_cache(maxsize=8192)  # noqa: B019 - one codec per process; the cache dies with it
    def _verified(self, token: str) -> AccessClaims:
        # A token string's signature check never changes its answer, so a verified token is not
        # re-verified on every request; refusals are exceptions and are not cached.
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("the access token is malformed") from exc
        kid = header.get("kid")
        kid = kid if isinstance(kid, str) else ""
        key = self._public.get(kid)
        if key is None:
            raise UnknownSigningKey(UNTRUSTED_KEY)
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated("the access token uses an algorithm that is not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                # Expiry is checked in decode() against Guard's clock, which tests and drills can move.
                options={"require": REQUIRED_CLAIMS, "verify_iat": False, "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the access token is not valid: {exc}") from exc
        exp, ver, sub, jti = claims["exp"], claims["ver"], claims["sub"], claims["jti"]
        if not all(isinstance(v, int) for v in (exp, ver)) or not all(isinstance(v, str) for v in (sub, jti)):
            raise Unauthenticated("the access token carries malformed claims")
        fam, via = claims.get("fam"), claims.get("via")
        return AccessClaims(
            sub=sub,
            jti=jti,
            ver=ver,
            fam=fam if isinstance(fam, str) else None,
            exp=datetime.fromtimestamp(exp, tz=UTC),
            via=via if isinstance(via, str) else None,
            kid=kid,
        )
