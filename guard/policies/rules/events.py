"""The event a detection rule sees: one audit entry, with the payload fields rules care about lifted out.

Built once per entry (by the engine, a backtest or a test) so that rules read plain attributes instead of
digging into the payload again for every rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Entries written by detection itself (alerts, responses) are never fed back into the rules.
DETECTION_ACTOR = "system:detection"  # not a possible username, so nobody can hide behind it
GUARD_SOURCE = "guard"


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    ts: datetime
    actor: str
    action: str
    target: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
    decision: str | None = None
    status: str | None = None
    classification: str | None = None
    source: str = GUARD_SOURCE
    honeytoken: bool = False
    in_portfolio: bool | None = None
    count: int = 1
    customer_ids: tuple[str, ...] = ()
    document_ids: tuple[str, ...] = ()
    department: str | None = None  # the actor's, as recorded with access decisions

    @classmethod
    def build(
        cls,
        *,
        seq: int,
        ts: datetime,
        actor: str,
        action: str,
        target: str = "",
        payload: Mapping[str, Any] | None = None,
    ) -> Event:
        """An event from an audit entry's columns and payload (see the audit vocabulary in API.md).

        On the engine's hot path (every entry): plain lookups and type checks, nothing clever."""
        data: Mapping[str, Any] = payload or {}
        get = data.get
        customers = get("customer_ids")
        if type(customers) is list:
            customer_ids = tuple(str(c) for c in customers if c is not None)
        else:
            one = get("customer_id")
            customer_ids = (str(one),) if one is not None and one != "" else ()
        documents = get("document_ids")
        if type(documents) is list:
            document_ids = tuple(str(d) for d in documents if d is not None)
        else:
            one = get("document_id")
            document_ids = (str(one),) if one is not None and one != "" else ()
        count = get("count")
        if type(count) is not int or count < 0:
            # Documents in an export, rows in an external report; 1 for a single view or download.
            count = len(document_ids) or 1
        decision, status, classification, source = (
            get("decision"),
            get("status"),
            get("classification"),
            get("source"),
        )
        in_portfolio, department = get("in_portfolio"), get("department")
        return cls(
            seq=seq,
            ts=ts,
            actor=actor,
            action=action,
            target=target,
            payload=data,
            decision=decision if type(decision) is str and decision else None,
            status=status if type(status) is str and status else None,
            classification=classification if type(classification) is str and classification else None,
            source=source if type(source) is str and source else GUARD_SOURCE,
            honeytoken=get("honeytoken") is True,
            in_portfolio=in_portfolio if type(in_portfolio) is bool else None,
            count=count,
            customer_ids=customer_ids,
            document_ids=document_ids,
            department=department if type(department) is str and department else None,
        )
