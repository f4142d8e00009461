"""Argon2id password hashing, and the password policy: a minimum length and a minimum zxcvbn score.

zxcvbn estimates how many guesses a password takes against dictionaries of common passwords, names and
words, keyboard patterns, dates and the person's own details, and explains a weak password in words.
"""

from __future__ import annotations

from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from guard.errors import InvalidInput

MAX_PASSWORD_LENGTH = 1024
JUDGED_LENGTH = 100  # zxcvbn's cost grows with length; past this a password is long enough anyway


class Passwords:
    def __init__(
        self, *, time_cost: int, memory_kib: int, parallelism: int, min_length: int = 12, min_score: int = 3
    ) -> None:
        self.min_length, self.min_score = min_length, min_score
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        # Verified against when the username is unknown, so both paths cost the same time.
        self._decoy = self._hasher.hash("decoy password that matches nothing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._decoy, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def check_strength(self, password: str, *, about: Iterable[str] = ()) -> None:
        """Refuse a password the policy does not accept, saying why; `about` are the person's own details
        (username, name, email), which make a password built from them weak."""
        if len(password) < self.min_length:
            raise InvalidInput(f"the password must be at least {self.min_length} characters long")
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidInput(f"the password may be at most {MAX_PASSWORD_LENGTH} characters long")
        if not self.min_score:
            return
        words = [part for value in about if value for part in (value, *value.replace("@", " ").split())]
        judged = zxcvbn(password[:JUDGED_LENGTH], user_inputs=words)
        if judged["score"] < self.min_score:
            feedback = judged["feedback"]
            why = feedback.get("warning") or "it would be guessed quickly"
            tips = " ".join(feedback.get("suggestions") or [])
            raise InvalidInput(f"this password is too easy to guess: {why.rstrip('.')}. {tips}".strip())
