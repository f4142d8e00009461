"""Settings for a test's own Guard: quiet logs, cheap password hashing, no background workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guard.settings import Settings, load_settings

FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}


def guard_settings(home: Path, database_url: str, **overrides: Any) -> Settings:
    """`overrides` win over the test defaults (e.g. background_workers=True for the watchers)."""
    return load_settings(
        **{
            "home": home,
            "database_url": database_url,
            "log_json": False,
            "auth": FAST_ARGON2,
            "background_workers": False,
            **overrides,
        }
    )
