"""Building plain event lists for rule tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from guard.policies.rules import Event, LoadedRule, parse_rule

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning
_seq = count(1)


def ev(
    at: timedelta | datetime = timedelta(0),
    *,
    actor: str = "ann",
    action: str = "access.download",
    target: str = "",
    seq: int | None = None,
    **payload: Any,
) -> Event:
    """An event `at` after T0 (or at a given time); payload fields as keyword arguments."""
    ts = at if isinstance(at, datetime) else T0 + at
    return Event.build(
        seq=seq if seq is not None else next(_seq),
        ts=ts,
        actor=actor,
        action=action,
        target=target,
        payload=payload,
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def rule(text: str, file: str = "rule.yaml") -> LoadedRule:
    return parse_rule(text, file)
