"""The SQLite file holds every person, grant and audit entry: only Guard's own user may read it."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from guard.db import open_database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_journal_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "home" / "guard.db"
    db = open_database(f"sqlite:///{path}")
    with db.write() as session, session.begin():
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
        files = [path, path.with_name("guard.db-wal"), path.with_name("guard.db-shm")]
        assert all(file.exists() for file in files)
        assert [mode(file) for file in files] == [0o600] * 3
    db.dispose()


def test_an_existing_database_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "guard.db"
    first = open_database(f"sqlite:///{path}")
    with first.write() as session, session.begin():
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    first.dispose()
    path.chmod(0o644)
    again = open_database(f"sqlite:///{path}")
    assert mode(path) == 0o600
    with again.read() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    again.dispose()
