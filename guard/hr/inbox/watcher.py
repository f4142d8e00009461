"""The watched HR inbox: files dropped into `settings.hr_inbox_path` are imported and moved aside.

Only one worker process handles the inbox (a leader lock of its own). A file is read only when it is
complete:
- a file renamed into the inbox is complete (the usual "write elsewhere, then move" convention);
- a file written in place is complete once it was closed after its last write (inotify's
  close-after-write; where the platform has no such event, once its size and mtime stop changing);
- in both cases its size and mtime must also stay unchanged for `hr.inbox_settle_seconds`;
- names that look temporary (`.tmp`, `.part`, hidden files, `~` backups) are never read.
Files that arrived while Guard was down are picked up by the first scan at start-up.

Outcome: `processed/<stamp>-<name>` with `<...>.result.json`, or `rejected/<stamp>-<name>` with
`<...>.errors.json` listing each bad row (row number, line and reason) — and nothing applied.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver

from guard.errors import Unavailable
from guard.hr.inbox.importer import ImportOutcome, import_bytes
from guard.hr.inbox.parse import RowError
from guard.leader import LeaderLock, leader_lock
from guard.runtime import Runtime

log = logging.getLogger("guard.hr.inbox")
INBOX_ACTOR = "hr-inbox"
PROCESSED, REJECTED = "processed", "rejected"
BARRIER_PREFIX = ".guard-inbox-barrier-"
BARRIER_TIMEOUT_SECONDS = 5.0
# A zero-byte file may be one a writer has just created: it is rejected only after it stayed empty this many
# settle times.
EMPTY_FILE_SETTLE_FACTOR = 5
TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".swp", ".filepart", "~")


def is_candidate(name: str) -> bool:
    lowered = name.lower()
    return not (name.startswith((".", "~")) or lowered.endswith(TEMP_SUFFIXES))


@dataclass
class _FileState:
    size: int
    mtime_ns: int
    since: float  # monotonic time the size and mtime were first seen as they are now


class _Events(FileSystemEventHandler):
    def __init__(self, watcher: InboxWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        name = _path(event.src_path).name
        if name.startswith(BARRIER_PREFIX):
            if isinstance(event, FileCreatedEvent):
                self.watcher.barrier_reached(name)
            return
        # A rename from outside the folder arrives as "created" (and needs no close); only writes in
        # place ("modified") mean someone may still be writing, until the close-after-write.
        if isinstance(event, FileMovedEvent):
            self.watcher.note(_path(event.src_path), writing=None)
            self.watcher.note(_path(event.dest_path), writing=False)
        elif isinstance(event, FileModifiedEvent):
            self.watcher.note(_path(event.src_path), writing=True)
        elif isinstance(event, FileClosedEvent):
            self.watcher.note(_path(event.src_path), writing=False)
        elif isinstance(event, FileDeletedEvent):
            self.watcher.note(_path(event.src_path), writing=None)
        else:
            self.watcher.note(_path(event.src_path), writing=False, changed=False)


def _path(value: str | bytes) -> Path:
    return Path(os.fsdecode(value))


class InboxWatcher:
    """A daemon for `guard serve` (see guard.daemons.build_watchers): start() and stop()."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.inbox = runtime.settings.hr_inbox_path.resolve()
        self.hr = runtime.settings.hr
        self._leader: LeaderLock | None = None
        self._observer: BaseObserver | None = None
        self._close_events = False
        self._files: dict[Path, _FileState] = {}
        self._writing: set[Path] = set()
        self._mutex = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._barrier = threading.Condition()
        self._barrier_count = 0
        self._barrier_seen = 0
        self.scans = 0  # completed scans: lets a caller wait for the watcher to have looked

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        for folder in (self.inbox, self.inbox / PROCESSED, self.inbox / REJECTED):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Every worker observes (cheap), so a worker that becomes leader already knows which files are
        # still being written; the watch is in place when start() returns.
        self._start_observer()
        self._thread = threading.Thread(target=self._loop, name="guard-hr-inbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
        if self._leader is not None:
            self._leader.release()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._is_leader():
                    self.scan()
            except Exception:
                log.exception("HR inbox scan failed; retrying")
            self._wake.wait(self.hr.inbox_poll_seconds)
            self._wake.clear()

    def _is_leader(self) -> bool:
        if self._leader is None:
            self._leader = leader_lock(self.runtime, self._leader_name())
        return self._leader.still_held() or self._leader.try_acquire()

    def _leader_name(self) -> str:
        engine = self.runtime.db.engine
        if engine.dialect.name != "postgresql":
            return "guard-hr-inbox"
        # Advisory locks are per database; deployments in separate schemas of one database must not
        # share a leader.
        with engine.connect() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar()
        return f"guard-hr-inbox:{schema}"

    def _start_observer(self) -> None:
        from watchdog.observers import Observer

        observer: BaseObserver = Observer()
        try:
            observer.schedule(_Events(self), str(self.inbox), recursive=False)
            observer.start()
        except OSError:  # e.g. out of inotify watches: poll, and rely on stable sizes
            from watchdog.observers.polling import PollingObserver

            observer = PollingObserver()
            observer.schedule(_Events(self), str(self.inbox), recursive=False)
            observer.start()
        self._close_events = type(observer).__name__ == "InotifyObserver"
        self._observer = observer

    # -- events and scans ------------------------------------------------------------------------------

    def note(self, path: Path, *, writing: bool | None, changed: bool = True) -> None:
        """From the observer thread: `writing` True (written to), False (closed or renamed in: complete),
        None (gone); `changed` False only wakes the scanner."""
        if path.parent != self.inbox:
            return
        if changed:
            with self._mutex:
                if writing:
                    self._writing.add(path)
                else:
                    self._writing.discard(path)
                    if writing is None:
                        self._files.pop(path, None)
        self._wake.set()

    def scan(self) -> list[ImportOutcome]:
        """Import every complete file in the inbox now; returns what was done."""
        outcomes = []
        for path in self._ready():
            outcome = self.process(path)
            if outcome is not None:
                outcomes.append(outcome)
        self.scans += 1
        return outcomes

    def _ready(self) -> list[Path]:
        now = time.monotonic()
        ready: list[Path] = []
        present: set[Path] = set()
        with os.scandir(self.inbox) as entries:
            candidates = sorted(
                (e for e in entries if e.is_file(follow_symlinks=False) and is_candidate(e.name)),
                key=lambda e: e.name,
            )
        with self._mutex:
            for entry in candidates:
                path = Path(entry.path)
                present.add(path)
                try:
                    stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                state = self._files.get(path)
                if state is None or (state.size, state.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                    # Never read a file on first sight: by the next scan the observer has reported
                    # whether someone is still writing it.
                    self._files[path] = _FileState(stat.st_size, stat.st_mtime_ns, now)
                    continue
                if self._close_events and path in self._writing:
                    continue  # still open for writing
                settle = self.hr.inbox_settle_seconds
                if stat.st_size == 0:  # maybe created with nothing written yet: give the writer longer
                    settle = max(settle * EMPTY_FILE_SETTLE_FACTOR, settle + 1.0)
                if now - state.since >= settle:
                    ready.append(path)
            for gone in set(self._files) - present:
                self._files.pop(gone, None)
        if ready and self._close_events:
            ready = self._confirmed(ready)
        return ready

    def _confirmed(self, ready: list[Path]) -> list[Path]:
        """The observer reports writes with a delay. Before reading, create a marker file and wait for its
        event: inotify keeps a folder's events in order, so every write before it has been noted."""
        self._barrier_count += 1
        marker = self.inbox / f"{BARRIER_PREFIX}{os.getpid()}-{self._barrier_count}"
        with self._barrier:
            marker.touch()
            marker.unlink()
            if not self._barrier.wait_for(
                lambda: self._barrier_seen >= self._barrier_count, BARRIER_TIMEOUT_SECONDS
            ):
                log.warning("the inbox observer is lagging; files wait for the next scan")
                return []
        confirmed = []
        with self._mutex:
            for path in ready:
                state = self._files.get(path)
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                unchanged = state is not None and (state.size, state.mtime_ns) == (
                    stat.st_size,
                    stat.st_mtime_ns,
                )
                if unchanged and path not in self._writing:
                    confirmed.append(path)
        return confirmed

    def barrier_reached(self, name: str) -> None:
        pid, _, number = name.removeprefix(BARRIER_PREFIX).partition("-")
        if pid == str(os.getpid()) and number.isdigit():
            with self._barrier:
                self._barrier_seen = max(self._barrier_seen, int(number))
                self._barrier.notify_all()

    def process(self, path: Path) -> ImportOutcome | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        now = self.runtime.clock.now()
        try:
            outcome = import_bytes(
                write=self.runtime.db.write,
                name=path.name,
                data=data,
                actor=INBOX_ACTOR,
                source=f"inbox:{path.name}",
                hr=self.hr,
                policy=self.runtime.policies.current,
                now=now,
            )
        except (Unavailable, OperationalError, InterfaceError):
            raise  # the database is away: the file stays and is tried again when it is back
        except Exception as exc:
            # Anything else would fail the same way on every try: reject the file once, with the error.
            log.exception("HR file could not be imported", extra={"file": path.name})
            problem = f"the file could not be imported ({type(exc).__name__}: {exc}); nothing was applied"
            digest = hashlib.sha256(data).hexdigest()
            outcome = ImportOutcome(path.name, digest, False, errors=[RowError(0, 0, problem[:1000])])
        self._move(path, outcome, now)
        with self._mutex:
            self._files.pop(path, None)
            self._writing.discard(path)
        level = logging.INFO if outcome.accepted else logging.WARNING
        log.log(level, "HR file %s", "applied" if outcome.accepted else "rejected", extra=_log_extra(outcome))
        return outcome

    def _move(self, path: Path, outcome: ImportOutcome, now: datetime) -> None:
        folder = self.inbox / (PROCESSED if outcome.accepted else REJECTED)
        folder.mkdir(exist_ok=True, mode=0o700)
        target = folder / f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{path.name}"
        while target.exists():
            target = target.with_name("x" + target.name)
        report = target.with_name(target.name + (".result.json" if outcome.accepted else ".errors.json"))
        partial = report.with_name("." + report.name + ".tmp")
        partial.write_bytes(orjson.dumps(outcome.as_dict(now), option=orjson.OPT_INDENT_2))
        os.replace(partial, report)
        os.replace(path, target)


def _log_extra(outcome: ImportOutcome) -> dict[str, Any]:
    return {
        "file": outcome.name,
        "sha256": outcome.sha256,
        "rows": len(outcome.results),
        "errors": len(outcome.errors),
    }
