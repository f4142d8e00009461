"""An alert's evidence as an analyst reads it: each entry with the titles and names behind its ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.audit.search import ENTRIES, entry_view
from guard.customers.models import Customer
from guard.documents.models import Document


def _ids(payload: dict[str, Any], many: str, one: str) -> list[str]:
    values = payload.get(many)
    if isinstance(values, list):
        return [str(v) for v in values if v is not None]
    value = payload.get(one)
    return [str(value)] if value not in (None, "") else []


def evidence_entries(*, session: Session, seqs: Sequence[int]) -> list[dict[str, Any]]:
    """The entries `seqs` names, in seq order, each with `documents` and `customers` as {id, name}."""
    c = ENTRIES.c
    rows = session.execute(
        select(c.seq, c.ts, c.actor, c.action, c.target, c.body, c.hash)
        .where(c.seq.in_(list(seqs)))
        .order_by(c.seq)
    ).all()
    entries = [
        entry_view(r.seq, r.body, r.hash, ts=r.ts, actor=r.actor, action=r.action, target=r.target)
        for r in rows
    ]
    documents = {i for e in entries for i in _ids(e["payload"], "document_ids", "document_id")}
    customers = {i for e in entries for i in _ids(e["payload"], "customer_ids", "customer_id")}
    titles = dict(
        session.execute(select(Document.id, Document.title).where(Document.id.in_(documents))).all()
    )
    names = dict(session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(customers))).all())
    for entry in entries:
        payload = entry["payload"]
        entry["decision"] = payload.get("decision")
        entry["documents"] = [
            {"id": i, "title": titles.get(i)} for i in _ids(payload, "document_ids", "document_id")
        ]
        entry["customers"] = [
            {"id": i, "name": names.get(i)} for i in _ids(payload, "customer_ids", "customer_id")
        ]
    return entries
