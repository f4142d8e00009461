"""spike, new_term, off_hours and leaver_activity on plain event lists."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from guard.policies.rules.leaver_activity import LeaverActivity, LeaverActivityConfig
from guard.policies.rules.new_term import NewTerm, NewTermConfig
from guard.policies.rules.off_hours import OffHours, OffHoursConfig
from guard.policies.rules.spike import Spike, SpikeConfig
from guard.policies.rules.trend import Trend, TrendConfig
from tests.policies.rules.events import ev, minutes

DAY = timedelta(days=1)


def day_of(rule: Spike, day: int, n: int, actor: str = "ann"):  # type: ignore[no-untyped-def]
    """n events spread over working hours of day `day`; the findings they raise."""
    out = []
    for i in range(n):
        found = rule.observe(ev(day * DAY + timedelta(seconds=i * 30), actor=actor))
        if found is not None:
            out.append(found)
    return out


def test_spike_learns_first_then_fires_once_against_the_own_baseline() -> None:
    rule = Spike(SpikeConfig(window=DAY, baseline_windows=7, min_history=3, factor=3, minimum=20))
    # A huge first day is not judged: there is no history yet.
    assert day_of(rule, 0, 100) == []
    assert day_of(rule, 1, 10) == []
    assert day_of(rule, 2, 10) == []
    # Baseline now (100+10+10)/3 = 40: 100 is not 3x that.
    assert day_of(rule, 3, 100) == []
    for day in range(4, 11):
        assert day_of(rule, day, 10) == []
    # The last 7 active windows average 10 (day 3 has aged out): 30 events reach 3x and the minimum.
    found = day_of(rule, 11, 40)
    assert len(found) == 1, "once per window"
    assert found[0].observed == 30
    assert found[0].threshold == 30
    assert len(found[0].evidence) == 30
    assert "against a usual 10.0" in found[0].summary
    assert (found[0].details["baseline"], found[0].details["baseline_spread"]) == (10.0, 0.0)


def test_spike_respects_the_minimum_for_quiet_people() -> None:
    rule = Spike(SpikeConfig(window=DAY, baseline_windows=7, min_history=3, factor=3, minimum=20))
    for day in range(5):
        day_of(rule, day, 1)
    assert day_of(rule, 5, 19) == []  # 19x the baseline but under the minimum
    assert len(day_of(rule, 6, 20)) == 1


def test_spike_heavy_but_steady_user_is_not_flagged() -> None:
    rule = Spike(SpikeConfig(window=DAY, baseline_windows=14, min_history=5, factor=3, minimum=20))
    assert all(day_of(rule, day, 150 + (day % 3) * 20) == [] for day in range(30))


def test_spike_counts_empty_windows_when_told_to() -> None:
    cfg = dict(window=DAY, baseline_windows=10, min_history=3, factor=3, minimum=10)
    active_only = Spike(SpikeConfig(**cfg))
    with_gaps = Spike(SpikeConfig(**cfg, ignore_empty_windows=False))
    for rule in (active_only, with_gaps):
        for day in (0, 3, 6):
            day_of(rule, day, 10)
    # Active windows average 10; over the 9 calendar days since the first it is 30/9.
    assert day_of(active_only, 9, 25) == []
    [found] = day_of(with_gaps, 9, 25)
    # Three windows of 10 and six empty ones: mean 30/9, spread sqrt(2)*10/3.
    assert (found.details["baseline"], found.details["baseline_spread"]) == (3.33, 4.71)


def test_spike_without_events_finds_nothing() -> None:
    rule = Spike(SpikeConfig(window=DAY, min_history=1, minimum=1))
    day_of(rule, 0, 5)
    # A silent day is not a window of its own: the next busy day is judged against day 0 only.
    assert day_of(rule, 2, 14) == []
    assert len(day_of(rule, 3, 45)) == 1


NEW_TERM = NewTermConfig(learning_period=timedelta(days=14), memory=timedelta(days=90))


def test_new_term_learns_then_fires_on_a_customer_outside_the_portfolio() -> None:
    rule = NewTerm(NEW_TERM)
    assert rule.observe(ev(customer_id="c1", in_portfolio=False)) is None  # learning
    assert rule.observe(ev(15 * DAY, customer_id="c1", in_portfolio=False)) is None  # known
    assert rule.observe(ev(15 * DAY, customer_id="own", in_portfolio=True)) is None  # in portfolio
    found = rule.observe(ev(16 * DAY, customer_id="c2", in_portfolio=False))
    assert found is not None
    assert found.details == {"new_customers": ["c2"]}
    assert "first touch of customer c2 outside their portfolio" in found.summary
    assert rule.observe(ev(17 * DAY, customer_id="c2", in_portfolio=False)) is None  # not new any more


def test_new_term_learning_period_edge() -> None:
    rule = NewTerm(NEW_TERM)
    rule.observe(ev(customer_id="c0", in_portfolio=False))
    assert rule.observe(ev(14 * DAY - timedelta(seconds=1), customer_id="c1", in_portfolio=False)) is None
    assert rule.observe(ev(14 * DAY, customer_id="c2", in_portfolio=False)) is not None


def test_new_term_forgets_after_its_memory() -> None:
    rule = NewTerm(NEW_TERM)
    rule.observe(ev(customer_id="c1", in_portfolio=False))
    assert rule.observe(ev(89 * DAY, customer_id="c1", in_portfolio=False)) is None
    assert rule.observe(ev(179 * DAY, customer_id="c1", in_portfolio=False)) is not None


def test_new_term_without_portfolio_field_is_ignored() -> None:
    rule = NewTerm(NEW_TERM)
    rule.observe(ev(customer_id="c0", in_portfolio=False))
    assert rule.observe(ev(30 * DAY, customer_id="c9")) is None


PARIS = OffHoursConfig(timezone="Europe/Paris", start=time(8), end=time(19))


def test_off_hours_uses_the_configured_time_zone() -> None:
    rule = OffHours(PARIS)
    # 07:30 UTC on a Monday in March is 08:30 in Paris (UTC+1): working time.
    assert rule.observe(ev(datetime(2026, 3, 2, 7, 30, tzinfo=UTC))) is None
    # 06:30 UTC is 07:30 in Paris: too early.
    found = rule.observe(ev(datetime(2026, 3, 2, 6, 30, tzinfo=UTC)))
    assert found is not None
    assert "Mon 07:30 Europe/Paris" in found.summary
    # After the clocks change (29 March) Paris is UTC+2: 06:30 UTC is 08:30, working time.
    assert OffHours(PARIS).observe(ev(datetime(2026, 3, 30, 6, 30, tzinfo=UTC))) is None


def test_off_hours_end_is_exclusive_and_weekends_are_off() -> None:
    rule = OffHours(OffHoursConfig(timezone="UTC", start=time(8), end=time(19)))
    assert rule.observe(ev(datetime(2026, 3, 2, 18, 59, 59, tzinfo=UTC))) is None
    assert rule.observe(ev(datetime(2026, 3, 2, 19, 0, tzinfo=UTC))) is not None
    assert OffHours(OffHoursConfig()).observe(ev(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))) is not None


def test_off_hours_overnight_shift() -> None:
    rule = OffHours(OffHoursConfig(start=time(22), end=time(6), days=["mon"]))
    assert rule.is_working_time(datetime(2026, 3, 2, 23, 0, tzinfo=UTC))  # Monday night
    assert rule.is_working_time(datetime(2026, 3, 3, 5, 0, tzinfo=UTC))  # Tuesday early: Monday's shift
    assert not rule.is_working_time(datetime(2026, 3, 3, 23, 0, tzinfo=UTC))  # Tuesday night


def test_off_hours_threshold_within_a_window() -> None:
    rule = OffHours(OffHoursConfig(threshold=3, window=timedelta(hours=1)))
    night = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    assert rule.observe(ev(night)) is None
    assert rule.observe(ev(night + minutes(30))) is None
    assert rule.observe(ev(night + minutes(70))) is None  # the first has left the hour
    found = rule.observe(ev(night + minutes(80)))
    assert found is not None
    assert found.observed == 3


def test_off_hours_rejects_an_unknown_zone_and_an_empty_day() -> None:
    with pytest.raises(ValidationError, match="not a known time zone"):
        OffHoursConfig(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="end must differ"):
        OffHoursConfig(start=time(8), end=time(8))


LEAVER_BULK = LeaverActivityConfig.model_validate(
    {"condition": {"type": "frequency", "options": {"threshold": 10, "window": "1h", "weight": "count"}}}
)


def test_leaver_activity_applies_only_to_people_on_notice() -> None:
    rule = LeaverActivity(LEAVER_BULK)
    active = [ev(minutes(i), status="active") for i in range(20)]
    assert [rule.observe(e) for e in active] == [None] * 20
    notice = [ev(minutes(i), actor="bob", status="notice") for i in range(10)]
    found = [f for f in (rule.observe(e) for e in notice) if f]
    assert len(found) == 1
    assert found[0].summary.startswith("on notice: bob: 10 items within 1h")
    assert found[0].details["condition"] == "frequency"
    assert found[0].evidence == tuple(e.seq for e in notice)


def test_leaver_activity_status_is_the_one_at_event_time() -> None:
    rule = LeaverActivity(LEAVER_BULK)
    before = [ev(minutes(i), status="active") for i in range(9)]
    for e in before:
        assert rule.observe(e) is None
    # Nine downloads while active do not count towards the leaver threshold.
    assert rule.observe(ev(minutes(10), status="notice")) is None


def test_leaver_activity_cannot_wrap_itself() -> None:
    with pytest.raises(ValidationError):
        LeaverActivityConfig.model_validate(
            {"condition": {"type": "leaver_activity", "options": {"condition": {"type": "honeytoken"}}}}
        )


def test_leaver_activity_learning_from_everyone_judges_notice_against_the_weeks_before() -> None:
    spike = {"window": "1d", "baseline_windows": 7, "min_history": 3, "factor": 3, "minimum": 10}
    config = {"condition": {"type": "spike", "options": spike}}
    learning = LeaverActivity(LeaverActivityConfig.model_validate({**config, "learn_from": "everyone"}))
    blind = LeaverActivity(LeaverActivityConfig.model_validate(config))
    days = [[ev(day * DAY + minutes(i), status="active") for i in range(4)] for day in range(5)]
    days.append([ev(5 * DAY + minutes(i), status="notice") for i in range(15)])
    found = {
        name: [rule.observe(e) for d in days for e in d]
        for name, rule in (("learning", learning), ("blind", blind))
    }
    assert [f.observed for f in found["learning"] if f] == [12]  # 3x a usual 4, and the minimum of 10
    assert not any(found["blind"])  # with no history of its own it is still learning


def team_day(rule: Spike, day: int, counts: dict[str, int]) -> dict[str, list[object]]:
    """One day of a department: each person's events interleaved; the findings per person."""
    found: dict[str, list[object]] = {name: [] for name in counts}
    for i in range(max(counts.values())):
        for name, n in counts.items():
            if i < n:
                event = ev(day * DAY + timedelta(seconds=i * 30), actor=name, department="sales-north")
                if (finding := rule.observe(event)) is not None:
                    found[name].append(finding)
    return found


def test_spike_with_peers_spares_a_quiet_person_doing_what_the_team_does() -> None:
    config = SpikeConfig(
        window=DAY,
        baseline_windows=7,
        min_history=3,
        factor=3,
        minimum=10,
        peers="department",
        peer_factor=1.5,
    )
    rule = Spike(config)
    usual = {"ann": 5, "bob": 40, "cat": 40, "dan": 40}
    for day in range(6):
        team_day(rule, day, usual)
    # Ann triples her own usual, but 20 is half of what her peers do every day: no alert.
    assert team_day(rule, 6, {**usual, "ann": 20})["ann"] == []
    # A busy day for the whole team (quarter-end): Ann at 4x her usual is still in line with them.
    assert team_day(rule, 7, {"ann": 30, "bob": 80, "cat": 80, "dan": 80})["ann"] == []
    # 70 is far above her own usual and above 1.5x what the peers did today: an alert that names both.
    [finding] = team_day(rule, 8, {**usual, "ann": 70})["ann"]
    assert finding.observed == 60  # type: ignore[attr-defined]
    assert finding.details["peer_median"] == 40.0  # type: ignore[attr-defined]
    assert finding.details["peers"] == 3  # type: ignore[attr-defined]
    assert "3 peers in sales-north: 40 in it so far" in finding.summary  # type: ignore[attr-defined]


def test_spike_with_too_few_peers_judges_against_the_own_baseline_alone() -> None:
    config = SpikeConfig(
        window=DAY, baseline_windows=7, min_history=3, factor=3, minimum=10, peers="department"
    )
    rule = Spike(config)
    for day in range(6):
        team_day(rule, day, {"ann": 5, "bob": 40})
    [finding] = team_day(rule, 6, {"ann": 20, "bob": 40})["ann"]
    assert "peer_median" not in finding.details  # type: ignore[attr-defined]


def test_trend_fires_once_when_counts_rise_window_after_window() -> None:
    rule = Trend(TrendConfig(window=DAY, rises=3, factor=3, minimum=20))
    # Level, then a fall: nothing. Weekend gaps (empty windows) do not break a run.
    for day, n in ((0, 10), (1, 10), (2, 8)):
        assert day_of(rule, day, n) == []
    assert day_of(rule, 3, 12) == []
    assert day_of(rule, 6, 18) == []  # after an empty weekend
    found = day_of(rule, 7, 40)  # 8 -> 12 -> 18 -> 24 reaches 3x the start and the minimum
    assert len(found) == 1
    assert found[0].observed == 24
    assert found[0].details["run"] == [8, 12, 18, 24]
    assert "rising 3 1d windows in a row: 8 -> 12 -> 18 -> 24" in found[0].summary


def test_trend_ignores_a_rise_too_small_or_under_the_minimum() -> None:
    rule = Trend(TrendConfig(window=DAY, rises=3, factor=3, minimum=20))
    for day, n in enumerate((10, 11, 12)):
        day_of(rule, day, n)
    assert day_of(rule, 3, 25) == []  # rising, but 25 is not 3x 10
    quiet = Trend(TrendConfig(window=DAY, rises=3, factor=3, minimum=20))
    for day, n in enumerate((1, 2, 4)):
        day_of(quiet, day, n)
    assert day_of(quiet, 3, 15) == []  # 15x the start, under the minimum


def test_spike_sustained_needs_the_window_before_to_have_been_high_too() -> None:
    rule = Spike(
        SpikeConfig(window=DAY, baseline_windows=7, min_history=3, factor=2, minimum=10, sustained=2)
    )
    for day in range(4):
        day_of(rule, day, 10)
    assert day_of(rule, 4, 30) == []  # one high day: a busy day, not a habit
    assert day_of(rule, 5, 10) == []
    assert day_of(rule, 6, 40) == []  # high again, but the day before was ordinary
    [finding] = day_of(rule, 7, 50)  # the second high day in a row
    assert finding.details["sustained_windows"] == 2


def test_spike_baseline_excludes_keeps_notice_weeks_out_of_the_usual() -> None:
    def days_on(rule: Spike, day: int, n: int, status: str) -> list[object]:
        found = []
        for i in range(n):
            event = ev(day * DAY + timedelta(seconds=i * 30), status=status)
            if (finding := rule.observe(event)) is not None:
                found.append(finding)
        return found

    config = {"window": DAY, "baseline_windows": 7, "min_history": 3, "factor": 2, "minimum": 10}
    frozen = Spike(SpikeConfig(**config, baseline_excludes=["notice"]))
    learning = Spike(SpikeConfig(**config))
    for rule in (frozen, learning):
        for day in range(4):
            days_on(rule, day, 10, "active")
        for day in range(4, 8):  # taking 25 a day on notice
            days_on(rule, day, 25, "notice")
    # Against the pre-notice usual (10), day 8's 25 is still 2.5x; a baseline that learnt the notice
    # days (mean ~19) no longer sees it.
    assert len(days_on(frozen, 8, 25, "notice")) == 1
    assert days_on(learning, 8, 25, "notice") == []
