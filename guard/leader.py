"""Leadership for background work that must run in one worker at a time (sweeps, detection, checkpoints).

PostgreSQL: a session-level advisory lock held on a dedicated connection, so it works across hosts and is
released by the server if the holder dies. A holder that vanishes without closing its connection (power
lost, network cut) is noticed through TCP keepalives set on that session: the server ends it, and frees the
lock, within `leader_lost_after_seconds`. SQLite (one host by nature): an exclusive `flock` on a file in
GUARD_HOME, released by the kernel when the process exits.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import zlib
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sqlalchemy import Connection, Engine, text

if TYPE_CHECKING:
    from guard.runtime import Runtime


log = logging.getLogger("guard.leader")


class LeaderLock:
    def __init__(
        self, *, engine: Engine, home: Path, name: str = "guard-leader", lost_after_seconds: int = 30
    ) -> None:
        self._engine = engine
        self._path = home / f".{name}.lock"
        self._name = name
        self._key = 0
        self._file: IO[str] | None = None
        self._connection: Connection | None = None
        self._lost_after = lost_after_seconds

    @property
    def held(self) -> bool:
        return self._file is not None or self._connection is not None

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if self._engine.dialect.name == "postgresql":
            # Autocommit: the lock belongs to the connection, not to a transaction, and nothing is written.
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            # Advisory locks are per database: key by schema too, so deployments sharing a database
            # (one schema each) elect their own leaders.
            schema = connection.execute(text("SELECT current_schema()")).scalar() or ""
            self._key = zlib.crc32(f"{self._name}:{schema}".encode())
            got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar())
            if got:
                self._notice_loss_within(connection)
                self._connection = connection
                self._announce()
            else:
                connection.close()
            return got
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        self._announce()
        return True

    def _announce(self) -> None:
        # Which host leads is otherwise visible only in pg_locks: say it where operators look.
        log.info(
            "this process now leads",
            extra={"lock": self._name, "host": socket.gethostname(), "pid": os.getpid()},
        )

    def _notice_loss_within(self, connection: Connection) -> None:
        """Server-side keepalives on the lock's session: probes start after a third of the bound and four
        unanswered ones end it, so a vanished holder loses the lock within about `lost_after_seconds`."""
        lost = int(self._lost_after)
        idle, interval = max(1, lost // 3), max(1, lost // 6)
        for statement in (
            f"SET tcp_keepalives_idle = {idle}",
            f"SET tcp_keepalives_interval = {interval}",
            "SET tcp_keepalives_count = 4",
            f"SET tcp_user_timeout = {lost * 1000}",  # unacknowledged data: the same bound
        ):
            connection.execute(text(statement))

    def still_held(self) -> bool:
        """For PostgreSQL, check the connection that holds the lock is alive; drop leadership if not."""
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
            except Exception:
                log.warning("lost the leader lock with its connection", extra={"lock": self._name})
                self.release()
                return False
        return self.held

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                self._connection.close()
            except Exception:  # the connection is gone; so is the lock
                self._connection.invalidate()
            self._connection = None
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def leader_lock(runtime: Runtime, name: str = "guard-leader") -> LeaderLock:
    """The lock for one kind of leader work, on this deployment's database (or home, on SQLite)."""
    return LeaderLock(
        engine=runtime.db.engine,
        home=runtime.settings.home,
        name=name,
        lost_after_seconds=runtime.settings.leader_lost_after_seconds,
    )
