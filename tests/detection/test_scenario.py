"""The shipped rules on a generated organisation (guard.detection.scenario): every exfiltration style is
caught at high or critical severity, bursts within the hour, and few innocent people are alerted at high
or critical: heavy users, managers, quarter-ends and honest leavers handing over. Pure: no database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from guard.detection.scenario import STYLES, evaluate, generate
from guard.policies.rules import load_rules
from tests.detection.helpers import DEFAULT_RULES

BURSTS = ("bulk-download", "bulk-view", "crm-export", "outside-portfolio", "night", "decoy")
MAX_INNOCENTS_PER_100_A_MONTH = 1.0


@pytest.mark.parametrize("seed", [3, 11])
def test_the_default_rules_catch_every_style_and_spare_the_innocent(seed: int) -> None:
    org = generate(people=100, weeks=14, per_style=2, honest_leavers=5, seed=seed)
    report = evaluate(org, load_rules(DEFAULT_RULES))
    print("\n" + report.table())

    missed = {row.style: f"{row.caught}/{row.total}" for row in report.styles if row.caught < row.total}
    assert not missed
    assert {row.style for row in report.styles} == set(STYLES)
    for row in report.styles:
        if row.style in BURSTS:
            assert max(row.delays) <= timedelta(hours=1), row
    assert report.innocent_rate_per_month * 100 <= MAX_INNOCENTS_PER_100_A_MONTH
    # The look-back is what finds data taken before the resignation: without it, that style is missed.
    before = next(row for row in report.styles if row.style == "before-resigning")
    assert all(delay > timedelta(0) for delay in before.delays)


def test_a_scenario_without_exfiltrators_raises_nothing_serious_about_the_heavy_users() -> None:
    org = generate(people=60, weeks=10, per_style=0, honest_leavers=0, seed=5)
    report = evaluate(org, load_rules(DEFAULT_RULES))
    assert report.innocents == 60
    assert report.innocents_alerted.get("heavy", 0) + report.innocents_alerted.get("manager", 0) == 0
    assert all(row.total == 0 for row in report.styles)
