"""Upgrading a SQLite database with entries to derived columns keeps the chain, and refuses to run over
entries whose stored columns were already edited (rebuilding would erase that evidence)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from guard.audit.chain import GENESIS_HASH, canonical_body, entry_hash, format_ts
from guard.audit.models import AuditEntry
from guard.audit.scan import definition_changed
from guard.db import make_engine
from guard.migrate import current_revision, upgrade

START = datetime(2026, 5, 4, 8, 30, tzinfo=UTC)


def entries_at_0005(path: Path, count: int) -> Engine:
    """A database at revision 0005 holding `count` chained entries with stored columns, as 0005 wrote them."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine, "0005")
    prev = GENESIS_HASH
    with engine.begin() as connection:
        for seq in range(1, count + 1):
            ts = START + timedelta(seconds=seq)
            actor, target = f"user{seq % 3}", f"document:d{seq}"
            body = canonical_body(ts=ts, actor=actor, action="access.view", target=target, payload={"n": seq})
            digest = entry_hash(seq, prev, body)
            connection.exec_driver_sql(
                "INSERT INTO audit_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, format_ts(ts)[:26].replace("T", " "), actor, "access.view", target, body.decode(),
                 prev, digest),
            )  # fmt: skip
            prev = digest
        connection.exec_driver_sql("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (count, prev))
    return engine


def test_upgrade_keeps_every_entry_and_derives_the_same_columns(tmp_path: Path) -> None:
    engine = entries_at_0005(tmp_path / "guard.db", 40)
    with engine.connect() as connection:
        before = connection.execute(select(AuditEntry).order_by(AuditEntry.seq)).all()
    upgrade(engine)
    with engine.connect() as connection:
        after = connection.execute(select(AuditEntry).order_by(AuditEntry.seq)).all()
        assert not definition_changed(connection)
        by_actor = connection.execute(select(AuditEntry.seq).where(AuditEntry.actor == "user1")).scalars()
        assert list(by_actor) == [seq for seq in range(1, 41) if seq % 3 == 1]
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
    engine.dispose()


def test_upgrade_refuses_entries_whose_stored_columns_were_edited(tmp_path: Path) -> None:
    engine = entries_at_0005(tmp_path / "guard.db", 12)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
        connection.exec_driver_sql("UPDATE audit_entries SET actor = 'someone else' WHERE seq = 7")
    with pytest.raises(RuntimeError, match="audit entry 7's actor, action, target or ts column"):
        upgrade(engine)
    assert current_revision(engine) == "0005"
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM audit_entries").scalar() == 12
    engine.dispose()
