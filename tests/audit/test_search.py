"""Search pages are index range reads in seq order, on both engines, whatever the log's size."""

from __future__ import annotations

import pytest

from guard.audit.search import AuditFilters, page_query
from guard.runtime import Runtime
from tests.audit.helpers import append

CASES = [
    (AuditFilters(actor="ann"), "ix_audit_entries_actor_seq"),
    (AuditFilters(action="document.view"), "ix_audit_entries_action_seq"),
    (AuditFilters(target="document:d1"), "ix_audit_entries_target_seq"),
]


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_equality_filters_read_their_index_in_seq_order_without_sorting(runtime: Runtime, order: str) -> None:
    append(runtime, 30)
    engine = runtime.db.engine
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if not sqlite:
            connection.exec_driver_sql("SET enable_seqscan = off")  # a tiny table would be scanned whole
        for filters, index in CASES:
            query = page_query(filters, after=20, order=order, limit=101)  # type: ignore[arg-type]
            compiled = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            plan = " / ".join(
                str(row[-1] if sqlite else row[0]) for row in connection.exec_driver_sql(explain + compiled)
            )
            assert index in plan, plan
            assert "TEMP B-TREE" not in plan, plan
            assert "Sort" not in plan, plan
