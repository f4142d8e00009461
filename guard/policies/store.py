"""Loading the access policy file, and the store that holds the policy in force.

Every request reads `store.current` once and decides with that object, so a swap (a reload after the
file changed) never mixes two policies inside one decision.
"""

from __future__ import annotations

import threading
from pathlib import Path

import yaml
from pydantic import ValidationError

from guard.errors import ConfigError
from guard.policies.access import AccessPolicy


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_access_policy(path: Path) -> AccessPolicy:
    """Parse with yaml.safe_load; any problem is a ConfigError naming the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the access policy {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the access policy must be a mapping of settings")
    try:
        return AccessPolicy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{path}: invalid access policy: {problems}") from exc


class PolicyStore:
    """The current AccessPolicy, safe to read from many threads and to swap at any time."""

    def __init__(self, policy: AccessPolicy, *, source: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._policy = policy
        self.source = source

    @property
    def current(self) -> AccessPolicy:
        with self._lock:
            return self._policy

    def swap(self, policy: AccessPolicy) -> AccessPolicy:
        """Put `policy` in force; returns the one it replaced."""
        with self._lock:
            previous, self._policy = self._policy, policy
        return previous

    def reload(self) -> AccessPolicy:
        """Read the source file again; the policy in force stays when the file is invalid (ConfigError)."""
        if self.source is None:
            raise ConfigError("this policy store was not loaded from a file")
        policy = load_access_policy(self.source)
        self.swap(policy)
        return policy

    @classmethod
    def from_file(cls, path: Path) -> PolicyStore:
        return cls(load_access_policy(path), source=path)
