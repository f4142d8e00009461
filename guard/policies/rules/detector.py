"""Runs a rule set over events: filters, per-rule state, suppression of repeats, isolation of failures.

Pure and shared by everything that evaluates rules: the engine on the live stream, look-back, backtest,
and the tests, which feed it plain lists of events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from guard.bounds import EARLIEST, LATEST, RANGE
from guard.policies.rules.base import Finding, RuleType
from guard.policies.rules.events import DETECTION_ACTOR, Event
from guard.policies.rules.filters import CompiledFilters
from guard.policies.rules.loader import LoadedRule


@dataclass(frozen=True)
class Detection:
    rule: LoadedRule
    finding: Finding
    seq: int  # the entry that completed the condition
    repeat: bool = False  # inside the rule's suppression window: evidence for the alert already raised


@dataclass(frozen=True)
class RuleFailure:
    rule: LoadedRule
    seq: int
    error: str


@dataclass(frozen=True)
class EntrySkipped:
    """An entry a rule cannot evaluate (a time outside the calendar's arithmetic): the rule passes over it
    and stays on; the engine records the skip."""

    rule: str | None  # None: no rule could evaluate it
    seq: int
    error: str


Outcome = Detection | RuleFailure | EntrySkipped
# Errors that come from an entry's values rather than from the rule: skip the entry, keep the rule.
DATA_ERRORS = (OverflowError,)


@dataclass(eq=False)
class _Slot:
    loaded: LoadedRule
    rule: RuleType[Any]
    filters: CompiledFilters
    checks_fields: bool = True


class Detector:
    def __init__(
        self, rules: Iterable[LoadedRule], *, disabled: Iterable[str] = (), repeats: bool = False
    ) -> None:
        """`repeats`: also report findings inside a suppression window, marked `repeat` (the live engine
        uses them to extend the open alert); otherwise they are dropped."""
        skip = set(disabled)
        self._repeats = repeats
        self._slots = [
            _Slot(rule, rule.make(), filters, filters.checks_fields)
            for rule in rules
            if rule.spec.enabled and rule.name not in skip
            for filters in (CompiledFilters(rule.spec.filters),)
        ]
        # The action vocabulary is small: which rules care about an action is worked out once per name.
        self._by_action: dict[str, list[_Slot]] = {}
        # (rule, person) -> no new detection before this event time
        self.suppressed_until: dict[tuple[str, str], datetime] = {}

    @property
    def active(self) -> list[str]:
        return [slot.loaded.name for slot in self._slots]

    @property
    def horizon(self) -> timedelta:
        return max((slot.loaded.horizon for slot in self._slots), default=timedelta(0))

    def suppress(self, rule: str, user: str, until: datetime) -> None:
        key = (rule, user)
        current = self.suppressed_until.get(key)
        if current is None or until > current:
            self.suppressed_until[key] = until

    def observe(self, event: Event) -> list[Outcome]:
        """Detections (after suppression) and failures caused by this event; usually an empty list."""
        if event.actor == DETECTION_ACTOR:
            return []
        slots = self._by_action.get(event.action)
        if slots is None:
            slots = self._by_action[event.action] = [
                slot for slot in self._slots if slot.filters.matches_action(event.action)
            ]
        if not slots:
            return []
        if not EARLIEST <= event.ts <= LATEST:
            return [EntrySkipped(None, event.seq, f"time {event.ts.isoformat()} is not {RANGE}")]
        outcomes: list[Outcome] = []
        failed: list[_Slot] = []
        for slot in slots:
            if slot.checks_fields and not slot.filters.matches_fields(event):
                continue
            try:
                finding = slot.rule.observe(event)
            except DATA_ERRORS as exc:
                outcomes.append(EntrySkipped(slot.loaded.name, event.seq, f"{type(exc).__name__}: {exc}"))
                continue
            except Exception as exc:  # one broken rule must not stop the others
                failed.append(slot)
                outcomes.append(RuleFailure(slot.loaded, event.seq, f"{type(exc).__name__}: {exc}"))
                continue
            if finding is None:
                continue
            key = (slot.loaded.name, finding.user)
            until = self.suppressed_until.get(key)
            if until is not None and finding.ts < until:
                if self._repeats:
                    outcomes.append(Detection(slot.loaded, finding, event.seq, repeat=True))
                continue
            self.suppressed_until[key] = finding.ts + slot.loaded.spec.suppress_for
            outcomes.append(Detection(slot.loaded, finding, event.seq))
        if failed:
            self._slots = [slot for slot in self._slots if slot not in failed]
            self._by_action = {}
        return outcomes

    def run(self, events: Iterable[Event]) -> list[Outcome]:
        """Every outcome over a finite stream (backtests, look-back, tests)."""
        outcomes: list[Outcome] = []
        for event in events:
            found = self.observe(event)
            if found:
                outcomes.extend(found)
        return outcomes
