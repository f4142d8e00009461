"""Run in separate OS processes by the concurrency tests: append entries through the real commit path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from guard.audit.log import install_hooks, record
from guard.db import open_database, transaction


def append_entries(url: str, worker: int, transactions: int, per_transaction: int, start: Any) -> None:
    install_hooks()
    db = open_database(url)
    start.wait(timeout=60)  # every process is ready: now they really append at the same time
    try:
        for number in range(transactions):
            with transaction(db.write) as session:
                for index in range(per_transaction):
                    record(
                        session=session,
                        actor=f"worker-{worker}",
                        action="test.append",
                        target=f"tx:{number}",
                        payload={"index": index},
                        ts=datetime.now(UTC),
                    )
    finally:
        db.dispose()
