"""The closed list of rule types. A rule file names one of these; nothing else is ever imported."""

from __future__ import annotations

from typing import Any

from guard.policies.rules.base import RuleType
from guard.policies.rules.departure_wave import DepartureWave
from guard.policies.rules.leaver_activity import INNER_TYPES, LeaverActivity

RULE_TYPES: dict[str, type[RuleType[Any]]] = {
    **INNER_TYPES,
    LeaverActivity.name: LeaverActivity,
    DepartureWave.name: DepartureWave,
}
