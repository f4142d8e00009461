"""departure_wave on plain event lists: three resignations in one team within the window make a wave."""

from __future__ import annotations

from datetime import timedelta

from guard.policies.rules.departure_wave import DepartureWave, DepartureWaveConfig
from tests.policies.rules.events import ev

DAY = timedelta(days=1)


def resign(day: int, employee: str, department: str = "Sales North", manager: str = "maria"):  # type: ignore[no-untyped-def]
    return ev(
        day * DAY,
        actor="workday",
        action="hr.resignation",
        employee=employee,
        department=department,
        manager=manager,
    )


def wave() -> DepartureWave:
    return DepartureWave(DepartureWaveConfig(threshold=3, window=30 * DAY, group_by=["department"]))


def test_three_resignations_in_one_department_within_the_window_are_a_wave() -> None:
    rule = wave()
    assert rule.observe(resign(0, "ann")) is None
    assert rule.observe(resign(5, "bob")) is None
    found = rule.observe(resign(20, "cid"))
    assert found is not None
    assert (found.user, found.observed, found.threshold) == ("department:Sales North", 3, 3)
    assert found.details["leavers"] == ["ann", "bob", "cid"]
    assert found.details["watch_for_seconds"] == 30 * 86400
    assert "3 resignations in department Sales North within 30d" in found.summary


def test_two_resignations_are_not_a_wave() -> None:
    rule = wave()
    assert rule.observe(resign(0, "ann")) is None
    assert rule.observe(resign(1, "bob")) is None
    assert rule.observe(resign(2, "bob")) is None  # the same person sent again
    assert rule.observe(resign(3, "cid", department="Sales South")) is None


def test_resignations_further_apart_than_the_window_are_not_a_wave() -> None:
    rule = wave()
    assert rule.observe(resign(0, "ann")) is None
    assert rule.observe(resign(20, "bob")) is None
    assert rule.observe(resign(31, "cid")) is None  # ann's has left the window


def test_a_wave_under_one_manager_across_departments() -> None:
    rule = DepartureWave(DepartureWaveConfig(threshold=3, group_by=["department", "manager"]))
    assert rule.observe(resign(0, "ann", department="North")) is None
    assert rule.observe(resign(1, "bob", department="South")) is None
    found = rule.observe(resign(2, "cid", department="East"))
    assert found is not None
    assert found.user == "manager:maria"


def test_other_entries_are_ignored() -> None:
    rule = wave()
    assert (
        rule.observe(ev(0 * DAY, action="hr.termination", employee="ann", department="Sales North")) is None
    )
    assert rule.observe(ev(0 * DAY, action="hr.resignation", department="Sales North")) is None
