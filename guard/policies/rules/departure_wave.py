"""`departure_wave`: several resignations in one department or under one manager within a window.

"If a batch of old hands leaves at once, the rest follow", and a leaving rep often takes colleagues and
their customers to the same competitor. The finding names the team (`department:Sales North` or
`manager:maria`) rather than one person; its `watch_team` response puts the colleagues who stay under the
leaver rules for `watch_for`.

    type: departure_wave
    options: {threshold: 3, window: 30d, group_by: [department, manager], watch_for: 30d}
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from guard.policies.rules.base import Finding, RuleConfig, RuleType
from guard.policies.rules.durations import PositiveDuration, describe
from guard.policies.rules.events import Event

RESIGNATION = "hr.resignation"
Group = Literal["department", "manager"]


class DepartureWaveConfig(RuleConfig):
    threshold: int = Field(3, ge=2, description="resignations in one team that make a wave")
    window: PositiveDuration = Field(timedelta(days=30))
    group_by: list[Group] = Field(["department", "manager"], min_length=1)
    watch_for: PositiveDuration = Field(
        timedelta(days=30), description="how long the colleagues who stay are judged by the leaver rules"
    )


class DepartureWave(RuleType[DepartureWaveConfig]):
    name = "departure_wave"
    config_model = DepartureWaveConfig

    def __init__(self, config: DepartureWaveConfig) -> None:
        super().__init__(config)
        self.teams: dict[tuple[str, str], deque[tuple[datetime, int, str]]] = {}

    @property
    def horizon(self) -> timedelta:
        return self.config.window

    def observe(self, event: Event) -> Finding | None:
        if event.action != RESIGNATION:
            return None
        employee = event.payload.get("employee")
        if not isinstance(employee, str) or not employee:
            return None
        cfg = self.config
        for group in cfg.group_by:
            team = event.payload.get(group)
            if not isinstance(team, str) or not team:
                continue
            leavers = self.teams.setdefault((group, team), deque())
            while leavers and leavers[0][0] <= event.ts - cfg.window:
                leavers.popleft()
            if any(name == employee for _, _, name in leavers):
                continue  # the same resignation sent again, or corrected
            leavers.append((event.ts, event.seq, employee))
            if len(leavers) < cfg.threshold:
                continue
            names = [name for _, _, name in leavers]
            return Finding(
                user=f"{group}:{team}",
                ts=event.ts,
                observed=len(leavers),
                threshold=cfg.threshold,
                window=cfg.window,
                evidence=tuple(seq for _, seq, _ in leavers),
                summary=(
                    f"{len(leavers)} resignations in {group} {team} within {describe(cfg.window)} "
                    f"(threshold {cfg.threshold}): {', '.join(names)}"
                ),
                details={
                    "group": group,
                    "team": team,
                    "leavers": names,
                    "watch_for_seconds": int(cfg.watch_for.total_seconds()),
                },
            )
        return None
