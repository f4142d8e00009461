"""Staged entries are never optional: a savepoint rolls back only its own entries, and recording without
the commit hook is refused instead of writing nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from guard.audit import log
from guard.audit.log import record
from guard.audit.models import AuditEntry
from guard.db import transaction
from guard.errors import Unavailable
from guard.runtime import Runtime


class Refused(Exception):
    pass


def actions(runtime: Runtime) -> list[str]:
    with runtime.db.read() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def test_a_savepoint_rollback_drops_only_what_was_staged_inside_it(runtime: Runtime) -> None:
    with transaction(runtime.db.write) as session:
        record(session=session, actor="ann", action="test.before")
        try:
            with session.begin_nested():
                record(session=session, actor="ann", action="test.inside")
                with session.begin_nested():
                    record(session=session, actor="ann", action="test.deeper")
                raise Refused
        except Refused:
            pass
        with session.begin_nested():
            record(session=session, actor="ann", action="test.kept_savepoint")
        record(session=session, actor="ann", action="test.after")
    assert actions(runtime) == ["test.before", "test.kept_savepoint", "test.after"]


def test_an_inner_savepoint_rollback_keeps_the_outer_savepoints_entries(runtime: Runtime) -> None:
    with transaction(runtime.db.write) as session, session.begin_nested():
        record(session=session, actor="ann", action="test.outer")
        try:
            with session.begin_nested():
                record(session=session, actor="ann", action="test.inner")
                raise Refused
        except Refused:
            pass
    assert actions(runtime) == ["test.outer"]


def test_recording_without_the_commit_hook_is_refused(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    event.remove(Session, "before_commit", log._before_commit)
    monkeypatch.setattr(log, "_hooked", False)
    try:
        with pytest.raises(Unavailable, match="commit hook"), transaction(runtime.db.write) as session:
            record(session=session, actor="ann", action="test.unhooked")
    finally:
        event.remove(Session, "after_soft_rollback", log._after_soft_rollback)
        log.install_hooks()
    assert actions(runtime) == []
