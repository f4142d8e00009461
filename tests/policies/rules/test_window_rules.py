"""frequency, denied_burst, cardinality and honeytoken on plain event lists, including window edges."""

from __future__ import annotations

from datetime import timedelta

from guard.policies.rules.cardinality import Cardinality, CardinalityConfig
from guard.policies.rules.denied_burst import DeniedBurst, DeniedBurstConfig
from guard.policies.rules.frequency import Frequency, FrequencyConfig
from guard.policies.rules.honeytoken import Honeytoken, HoneytokenConfig
from tests.policies.rules.events import ev, minutes

TEN_IN_TEN = FrequencyConfig(threshold=10, window=timedelta(minutes=10))


def findings(rule, events):  # type: ignore[no-untyped-def]
    return [f for f in (rule.observe(e) for e in events) if f is not None]


def test_frequency_without_events_finds_nothing() -> None:
    assert findings(Frequency(TEN_IN_TEN), []) == []


def test_frequency_fires_on_the_tenth_event_with_all_ten_as_evidence() -> None:
    events = [ev(minutes(i)) for i in range(10)]
    rule = Frequency(TEN_IN_TEN)
    assert findings(rule, events[:9]) == []
    found = rule.observe(events[9])
    assert found is not None
    assert found.user == "ann"
    assert (found.observed, found.threshold, found.window) == (10, 10, timedelta(minutes=10))
    assert found.evidence == tuple(e.seq for e in events)
    assert "10 matching events within 10m (threshold 10)" in found.summary


def test_frequency_window_is_half_open_at_its_edge() -> None:
    # The first event is exactly one window older than the tenth: it has left the window.
    exact = [ev(minutes(0)), *(ev(minutes(1 + i * 9 / 8)) for i in range(8)), ev(minutes(10))]
    assert findings(Frequency(TEN_IN_TEN), exact) == []
    # A microsecond later it is still inside.
    inside = [
        ev(minutes(0)),
        *(ev(minutes(1 + i * 9 / 8)) for i in range(8)),
        ev(minutes(10) - timedelta(microseconds=1)),
    ]
    assert len(findings(Frequency(TEN_IN_TEN), inside)) == 1


def test_frequency_counts_each_person_separately() -> None:
    events = [ev(minutes(i), actor="ann" if i % 2 else "bob") for i in range(18)]
    assert findings(Frequency(TEN_IN_TEN), events) == []


def test_frequency_weighted_by_count_sees_one_big_export() -> None:
    rule = Frequency(FrequencyConfig(threshold=1000, window=timedelta(hours=1), weight="count"))
    assert rule.observe(ev(action="crm.export", count=999)) is None
    found = rule.observe(ev(minutes(5), action="crm.export", count=5000))
    assert found is not None
    assert found.observed == 5999
    assert "items" in found.summary


def test_frequency_counts_a_late_event_inside_the_window_and_drops_an_older_one() -> None:
    rule = Frequency(FrequencyConfig(threshold=3, window=timedelta(minutes=10)))
    assert rule.observe(ev(minutes(20))) is None
    assert rule.observe(ev(minutes(5))) is None  # older than the window ending at 20m: does not count
    assert rule.observe(ev(minutes(15))) is None  # late but inside (10m, 20m]
    assert rule.observe(ev(minutes(21))) is not None


def test_denied_burst_counts_only_refusals() -> None:
    rule = DeniedBurst(DeniedBurstConfig(threshold=5, window=timedelta(minutes=10)))
    granted = [ev(minutes(i), decision="granted") for i in range(20)]
    assert findings(rule, granted) == []
    denied = [ev(minutes(i), decision="denied") for i in range(5)]
    found = findings(rule, denied)
    assert len(found) == 1
    assert found[0].observed == 5
    assert found[0].evidence == tuple(e.seq for e in denied)


def test_denied_burst_spread_out_stays_quiet() -> None:
    rule = DeniedBurst(DeniedBurstConfig(threshold=5, window=timedelta(minutes=10)))
    assert findings(rule, [ev(minutes(i * 3), decision="denied") for i in range(10)]) == []


def test_cardinality_counts_distinct_customers_within_the_window() -> None:
    rule = Cardinality(CardinalityConfig(threshold=3, window=timedelta(hours=1)))
    same = [ev(minutes(i), customer_id="c1") for i in range(10)]
    assert findings(rule, same) == []
    assert rule.observe(ev(minutes(11), customer_id="c2")) is None
    found = rule.observe(ev(minutes(12), customer_id="c3"))
    assert found is not None
    assert found.observed == 3
    assert found.details["customers"] == ["c1", "c2", "c3"]


def test_cardinality_forgets_customers_that_left_the_window() -> None:
    rule = Cardinality(CardinalityConfig(threshold=3, window=timedelta(hours=1)))
    assert rule.observe(ev(minutes(0), customer_id="c1")) is None
    assert rule.observe(ev(minutes(30), customer_id="c2")) is None
    assert rule.observe(ev(minutes(60), customer_id="c3")) is None  # c1 is exactly one hour old: gone


def test_cardinality_of_an_export_counts_every_customer_in_it() -> None:
    rule = Cardinality(CardinalityConfig(field="document", threshold=4, window=timedelta(hours=1)))
    found = rule.observe(ev(action="access.export", document_ids=["d1", "d2", "d3", "d4"]))
    assert found is not None
    assert found.observed == 4


def test_cardinality_ignores_events_without_the_field() -> None:
    rule = Cardinality(CardinalityConfig(threshold=2, window=timedelta(hours=1)))
    assert findings(rule, [ev(minutes(i), action="auth.login") for i in range(5)]) == []


def test_honeytoken_fires_on_a_decoy_only() -> None:
    rule = Honeytoken(HoneytokenConfig())
    assert rule.observe(ev(document_id="d1", honeytoken=False)) is None
    assert rule.observe(ev(document_id="d1")) is None
    decoy = ev(action="access.view", document_id="decoy-7", honeytoken=True)
    found = rule.observe(decoy)
    assert found is not None
    assert found.evidence == (decoy.seq,)
    assert "decoy document decoy-7" in found.summary
