"""The rule set in force in this process, and the outcome of the last attempt to (re)load it.

Thread-safe: the reload watcher swaps it while the engine and `GET /rules` read it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from guard.policies.rules import RuleProblem, RuleSet, RulesInvalid, load_rules


@dataclass(frozen=True)
class ReloadOutcome:
    ok: bool
    at: datetime
    digest: str | None = None
    problems: tuple[RuleProblem, ...] = field(default=())
    error: str | None = None


class RuleStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._rules: RuleSet | None = None
        self._outcome: ReloadOutcome | None = None
        self._loaded_at: datetime | None = None

    def current(self, now: datetime) -> RuleSet:
        """The rule set in force; loaded on first use. Raises RulesInvalid while no valid set was ever
        loaded, so the engine waits (and its cursor stays put) instead of running without rules."""
        with self._lock:
            if self._rules is not None:
                return self._rules
        try:
            rules = load_rules(self.directory)
        except RulesInvalid as exc:
            self.failed(problems=exc.problems, now=now)
            raise
        with self._lock:
            if self._rules is None:
                self._rules, self._loaded_at = rules, now
                self._outcome = ReloadOutcome(ok=True, at=now, digest=rules.digest)
            return self._rules

    def peek(self) -> RuleSet | None:
        with self._lock:
            return self._rules

    def replace(self, rules: RuleSet, *, now: datetime) -> None:
        with self._lock:
            self._rules, self._loaded_at = rules, now
            self._outcome = ReloadOutcome(ok=True, at=now, digest=rules.digest)

    def failed(
        self, *, problems: tuple[RuleProblem, ...] | list[RuleProblem], now: datetime, error: str = ""
    ) -> None:
        with self._lock:
            self._outcome = ReloadOutcome(
                ok=False, at=now, problems=tuple(problems), error=error or "; ".join(map(str, problems))
            )

    @property
    def last_outcome(self) -> ReloadOutcome | None:
        with self._lock:
            return self._outcome

    @property
    def loaded_at(self) -> datetime | None:
        with self._lock:
            return self._loaded_at
