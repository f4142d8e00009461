"""The hash of one audit entry. Kept tiny and dependency-free: verify and append share it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson

DOMAIN_TAG = b"guard-audit-v1\x00"
GENESIS_HASH = "0" * 64


def format_ts(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_body(*, ts: datetime, actor: str, action: str, target: str, payload: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same entry always gives the same bytes."""
    return orjson.dumps(
        {"action": action, "actor": actor, "payload": payload, "target": target, "ts": format_ts(ts)},
        option=orjson.OPT_SORT_KEYS,
    )


def entry_hash(seq: int, prev_hash: str, body: bytes) -> str:
    return hashlib.sha256(DOMAIN_TAG + seq.to_bytes(8, "big") + bytes.fromhex(prev_hash) + body).hexdigest()
