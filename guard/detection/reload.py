"""Hot reload of the policy directory (access.yaml and rules/): validate the whole set, then swap it.

A watchdog observer reports changes; a short debounce lets an editor or a deploy finish writing several
files before the set is read. An invalid set leaves the one in force running, is audited
(`policy.reload_failed`) and shows in `GET /rules`; a good one is audited (`policy.reloaded`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from guard.audit.log import record
from guard.clock import Clock
from guard.db import Database, transaction
from guard.detection.rulestore import RuleStore
from guard.errors import ConfigError, Unavailable
from guard.policies.access import AccessPolicy
from guard.policies.rules import RuleProblem, RuleSet, RulesInvalid, load_rules
from guard.policies.rules.loader import rule_files
from guard.policies.store import PolicyStore, load_access_policy

log = logging.getLogger("guard.detection.reload")
POLICY_ACTOR = "system:policy"
ACCESS_FILE = "access.yaml"
RULES_DIR = "rules"
DEBOUNCE_SECONDS = 0.5
RETRY_SECONDS = 5.0  # a reload whose audit entry could not be written is tried again this often
# inotify also reports reads (opened, closed without writing): reading the files must not trigger a reload.
CHANGES = frozenset({"created", "modified", "deleted", "moved", "closed"})


@dataclass(frozen=True)
class PolicySet:
    rules: RuleSet
    access: AccessPolicy | None


def fingerprint(directory: Path, access_file: Path | None = None) -> str:
    """What the policy files say right now; a reload with an unchanged fingerprint does nothing."""
    digest = hashlib.sha256()
    files = [access_file or directory / ACCESS_FILE]
    rules = directory / RULES_DIR
    if rules.is_dir():
        files.extend(rule_files(rules))
    for path in files:
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"(missing)")
        digest.update(b"\0")
    return digest.hexdigest()


def load_policy_set(directory: Path, *, access_file: Path | None) -> PolicySet:
    """Every file of the set, or RulesInvalid listing every problem (paths relative to `directory`)."""
    problems: list[RuleProblem] = []
    access = None
    if access_file is not None:
        try:
            access = load_access_policy(access_file)
        except ConfigError as exc:
            shown = (
                access_file.relative_to(directory) if access_file.is_relative_to(directory) else access_file
            )
            problems.append(RuleProblem(str(shown), "(policy)", exc.detail))
    rules = None
    try:
        rules = load_rules(directory / RULES_DIR)
    except RulesInvalid as exc:
        problems.extend(
            RuleProblem(p.file if p.field == "(directory)" else f"{RULES_DIR}/{p.file}", p.field, p.message)
            for p in exc.problems
        )
    if problems or rules is None:
        raise RulesInvalid(problems)
    return PolicySet(rules=rules, access=access)


class PolicyReloader:
    def __init__(
        self,
        *,
        directory: Path,
        rules: RuleStore,
        access: PolicyStore | None,
        db: Database,
        clock: Clock,
        debounce_seconds: float = DEBOUNCE_SECONDS,
    ) -> None:
        self.directory = directory
        self.rules = rules
        self.access = access
        self.db = db
        self.clock = clock
        self.debounce_seconds = debounce_seconds
        self._observer: Any = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        # The access policy file may live elsewhere (settings.broker.access_policy_file).
        self.access_file = (access.source or directory / ACCESS_FILE) if access is not None else None
        self._seen = self._fingerprint()

    def _fingerprint(self) -> str:
        return fingerprint(self.directory, self.access_file)

    def start(self) -> None:
        handler = _Handler(self.schedule)
        self._observer = Observer()
        self._observer.schedule(handler, str(self.directory), recursive=True)
        if self.access_file is not None and not self.access_file.is_relative_to(self.directory):
            self._observer.schedule(handler, str(self.access_file.parent), recursive=False)
        self._observer.daemon = True
        self._observer.start()

    def stop(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
            self._observer = None

    def schedule(self) -> None:
        """Reload once things have been quiet for the debounce interval."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce_seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        try:
            self.reload()
        except Exception:
            # Nothing changed: a reload takes effect only once its audit entry is written. Try again.
            log.exception("policy reload not applied; the previous policies stay in force and it is retried")
            self._retry()

    def _retry(self) -> None:
        with self._lock:
            self._timer = threading.Timer(RETRY_SECONDS, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def reload(self, *, force: bool = False) -> bool | None:
        """True: a new set is in force; False: invalid, the old set stays; None: nothing changed.
        Unavailable when the outcome cannot be audited: then nothing changed at all."""
        with self._reload_lock:
            seen = self._fingerprint()
            if seen == self._seen and not force:
                return None
            now = self.clock.now()
            try:
                policies = load_policy_set(self.directory, access_file=self.access_file)
            except RulesInvalid as exc:
                # Audited first, so whoever sees the outcome in GET /rules also finds it in the log.
                self._audit(
                    "policy.reload_failed",
                    {"fingerprint": seen, "problems": [str(p) for p in exc.problems][:50]},
                )
                self.rules.failed(problems=exc.problems, now=now)
                log.error("policy reload refused; the previous policies stay in force: %s", exc.detail)
                self._seen = seen
                return False
            self._audit(
                "policy.reloaded",
                {
                    "fingerprint": seen,
                    "rules": [r.name for r in policies.rules.rules],
                    "rules_digest": policies.rules.digest,
                    "access_policy": policies.access is not None,
                },
            )
            if self.access is not None and policies.access is not None:
                self.access.swap(policies.access)
            self.rules.replace(policies.rules, now=now)
            self._seen = seen
            log.info("policies reloaded", extra={"rules": len(policies.rules.rules)})
            return True

    def _audit(self, action: str, payload: dict[str, Any]) -> None:
        """Written before the change takes effect: if it cannot be written, the reload raises and the
        policies in force stay (fail closed). Each worker reloads its own copy; the pid tells them apart."""
        try:
            with transaction(self.db.write) as session:
                record(
                    session=session,
                    actor=POLICY_ACTOR,
                    action=action,
                    target=f"policy:{self.directory.name}",
                    payload={**payload, "worker": os.getpid()},
                    ts=self.clock.now(),
                )
        except Exception as exc:
            raise Unavailable(f"could not audit {action}; nothing was reloaded: {exc}") from exc


class _Handler(FileSystemEventHandler):
    def __init__(self, on_change: Any) -> None:
        self.on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in CHANGES:
            self.on_change()
