"""Vault watch: every touch of the vault by anything other than the broker becomes a `vault.tamper` entry.

inotify says that a file was opened, never by whom, and `guard serve --workers N` runs N broker processes.
So the broker announces its own accesses: before it touches a blob it creates a marker
`<vault>/.inflight/<document id>.<pid>.<n>` and deletes it when done (guard.vault.store.Vault.touching).
The watcher follows the whole vault tree with ONE inotify instance, whose queue keeps events in the order
they happened across every directory it watches, and replays that order: between the creation and the
deletion of a marker, events on that document's files are the broker's own; every other event (created,
modified, moved, deleted, opened, attributes changed) is recorded. No clock and no grace period is
involved, only order, so a marker from any worker process is recognised by the one process that watches.

Only one process records: the watcher runs where it holds the `guard-vault-watch` leader lock (a file
lock on SQLite, an advisory lock on PostgreSQL); the other workers keep trying, so the watch resumes
when that process dies.

Limits, stated plainly: an outsider touching a blob during the milliseconds the broker touches the same
blob is not told apart; someone who can create files in `.inflight` can forge markers (but that person
already holds the broker's file permissions); inotify does not see other hosts writing to a network
share. A marker left by a killed process is pruned after a minute.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from guard.audit.log import record
from guard.clock import Clock
from guard.db import Database, transaction
from guard.leader import LeaderLock
from guard.vault.store import INFLIGHT, Vault, document_of

log = logging.getLogger("guard.vault.watch")
ACTOR = "guard"
STALE_MARKER_SECONDS = 60.0
KINDS = {"created", "modified", "moved", "deleted", "opened", "attrib"}


class _Replay(FileSystemEventHandler):
    """Runs in the observer's single dispatch thread, so the marker table needs no lock."""

    def __init__(self, root: Path, out: queue.Queue[dict[str, Any]]) -> None:
        self.root = root
        self.inflight = root / INFLIGHT
        self.out = out
        self.active: dict[str, set[str]] = defaultdict(set)
        for marker in self.inflight.glob("*"):
            self._marker(marker.name, present=True)

    def _marker(self, name: str, *, present: bool) -> None:
        document_id = name.split(".", 1)[0]
        if present:
            self.active[document_id].add(name)
        else:
            self.active[document_id].discard(name)
            if not self.active[document_id]:
                del self.active[document_id]

    def _relative(self, path: str | bytes) -> Path | None:
        try:
            return Path(os.fsdecode(path)).relative_to(self.root)
        except ValueError:
            return None

    def _brokers(self, relative: Path | None) -> bool:
        if relative is None:
            return False
        document_id = document_of(relative.name)
        return document_id is not None and document_id in self.active

    def on_any_event(self, event: FileSystemEvent) -> None:
        source = self._relative(event.src_path)
        dest = self._relative(event.dest_path) if event.dest_path else None
        if source is not None and source.parts[:1] == (INFLIGHT,):
            if len(source.parts) == 2 and event.event_type in ("created", "deleted"):
                self._marker(source.name, present=event.event_type == "created")
            return
        if event.event_type not in KINDS:  # closing is not news: the open was recorded
            return
        if event.is_directory and (event.event_type == "modified" or source in (Path("."), Path(INFLIGHT))):
            return  # a directory changes whenever a file in it does; the file event says what happened
        if self._brokers(source) or self._brokers(dest):
            return
        relative = source if source is not None else Path(os.fsdecode(event.src_path))
        self.out.put(
            {
                "path": relative.as_posix(),
                "event": event.event_type,
                "directory": event.is_directory,
                "document_id": document_of(relative.name),
                "dest_path": dest.as_posix() if dest is not None else None,
            }
        )


class VaultWatcher:
    """Start/stop daemon for `guard serve`: watch while leader, record what the broker did not do."""

    def __init__(
        self, *, vault: Vault, db: Database, clock: Clock, leader: LeaderLock, retry_seconds: float = 2.0
    ) -> None:
        self.vault = vault
        self.db = db
        self.clock = clock
        self.leader = leader
        self.retry_seconds = retry_seconds
        self.watching = threading.Event()
        self._stop = threading.Event()
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._observer: Any = None
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.vault.ensure()
        for target, name in ((self._supervise, "guard-vault-watch"), (self._write, "guard-vault-audit")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._stop_observer()
        for thread in self._threads:
            thread.join(5)
        self.leader.release()

    def _start_observer(self) -> None:
        observer = Observer()
        observer.schedule(_Replay(self.vault.root, self._events), str(self.vault.root), recursive=True)
        observer.start()
        self._observer = observer
        self.watching.set()
        log.info("watching the vault", extra={"path": str(self.vault.root)})

    def _stop_observer(self) -> None:
        observer, self._observer = self._observer, None
        self.watching.clear()
        if observer is not None:
            observer.stop()
            observer.join(5)

    def _supervise(self) -> None:
        last_prune = 0.0
        while not self._stop.is_set():
            try:
                if self._observer is None and self.leader.try_acquire():
                    self._start_observer()
                elif self._observer is not None and not self.leader.still_held():
                    self._stop_observer()
                if self._observer is not None and time.monotonic() - last_prune > STALE_MARKER_SECONDS / 2:
                    last_prune = time.monotonic()
                    self._prune_markers()
            except Exception:
                log.exception("vault watch supervisor failed; retrying")
            self._stop.wait(self.retry_seconds)

    def _prune_markers(self) -> None:
        cutoff = time.time() - STALE_MARKER_SECONDS
        for marker in self.vault.inflight.glob("*"):
            try:
                if marker.stat().st_mtime < cutoff:
                    marker.unlink()
            except FileNotFoundError:
                pass

    def _write(self) -> None:
        """Record what the observer saw. A batch that cannot be written (the database is away) is kept and
        tried again, with whatever arrives meanwhile: a tamper event is never dropped while Guard runs."""
        unwritten: list[dict[str, Any]] = []
        while not self._stop.is_set() or not self._events.empty():
            if not unwritten:
                try:
                    unwritten.append(self._events.get(timeout=0.2))
                except queue.Empty:
                    continue
            while len(unwritten) < 500:
                try:
                    unwritten.append(self._events.get_nowait())
                except queue.Empty:
                    break
            try:
                self._record(unwritten)
                unwritten = []
            except Exception:
                log.exception("could not record vault events yet; retrying", extra={"events": len(unwritten)})
                self._stop.wait(self.retry_seconds)
        if unwritten:
            log.error("vault events left unrecorded at shutdown", extra={"events": len(unwritten)})

    def _record(self, batch: list[dict[str, Any]]) -> None:
        merged: list[dict[str, Any]] = []
        for item in batch:  # collapse a burst of identical events (e.g. many writes) into one entry
            if merged and {k: v for k, v in merged[-1].items() if k != "count"} == item:
                merged[-1]["count"] += 1
            else:
                merged.append({**item, "count": 1})
        now = self.clock.now()
        with transaction(self.db.write) as session:
            for item in merged:
                document_id = item["document_id"]
                record(
                    session=session,
                    actor=ACTOR,
                    action="vault.tamper",
                    target=f"document:{document_id}" if document_id else f"vault:{item['path']}",
                    payload={**item, "source": "vault-watch"},
                    ts=now,
                )
