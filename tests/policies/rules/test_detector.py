"""The detector: filters, suppression of repeats per rule and person, isolation of a failing rule."""

from __future__ import annotations

from datetime import timedelta

from guard.policies.rules import DETECTION_ACTOR, Detection, Detector, RuleFailure
from guard.policies.rules.frequency import Frequency
from tests.policies.rules.events import ev, minutes, rule

THREE_DOWNLOADS = rule(
    """
name: three-downloads
type: frequency
severity: high
filters: {actions: [access.download, "*.export"], decisions: [granted]}
options: {threshold: 3, window: 10m}
suppress_for: 1h
responses: [notify]
"""
)


def detections(outcomes):  # type: ignore[no-untyped-def]
    return [o for o in outcomes if isinstance(o, Detection)]


def test_filters_decide_what_the_rule_sees() -> None:
    detector = Detector([THREE_DOWNLOADS])
    ignored = [
        ev(minutes(0), action="access.view", decision="granted"),
        ev(minutes(1), action="access.download", decision="denied"),
        ev(minutes(2), action="access.download"),  # no decision at all: does not satisfy the filter
    ]
    assert detector.run(ignored) == []
    counted = [
        ev(minutes(3 + i), action=a, decision="granted")
        for i, a in enumerate(["access.download", "crm.export", "access.download"])
    ]
    [found] = detections(detector.run(counted))
    assert found.rule.name == "three-downloads"
    assert found.seq == counted[-1].seq
    assert found.finding.evidence == tuple(e.seq for e in counted)


def test_repeats_for_the_same_person_are_suppressed_for_suppress_for() -> None:
    detector = Detector([THREE_DOWNLOADS])
    burst = [ev(minutes(i), decision="granted") for i in range(8)]
    assert len(detections(detector.run(burst))) == 1
    # Another person is not suppressed by ann's alert.
    assert (
        len(detections(detector.run([ev(minutes(i), actor="bob", decision="granted") for i in range(3)])))
        == 1
    )
    # After the hour, ann alerts again.
    later = [ev(timedelta(hours=1, minutes=2 + i), decision="granted") for i in range(3)]
    assert len(detections(detector.run(later))) == 1


def test_seeded_suppression_holds_back_a_repeat() -> None:
    detector = Detector([THREE_DOWNLOADS])
    detector.suppress("three-downloads", "ann", ev(minutes(30)).ts)
    assert detections(detector.run([ev(minutes(i), decision="granted") for i in range(5)])) == []


def test_entries_written_by_detection_itself_are_ignored() -> None:
    detector = Detector([THREE_DOWNLOADS])
    mine = [ev(minutes(i), actor=DETECTION_ACTOR, decision="granted") for i in range(5)]
    assert detector.run(mine) == []


def test_a_rule_that_raises_is_isolated_and_disabled() -> None:
    broken = rule(THREE_DOWNLOADS.spec.model_dump_json().replace("three-downloads", "broken"), "broken.yaml")

    class Exploding(Frequency):
        def observe(self, event):  # type: ignore[no-untyped-def]
            raise ZeroDivisionError("boom")

    detector = Detector([broken, THREE_DOWNLOADS])
    detector._slots[0].rule = Exploding(detector._slots[0].rule.config)
    outcomes = detector.run([ev(minutes(i), decision="granted") for i in range(3)])
    failures = [o for o in outcomes if isinstance(o, RuleFailure)]
    assert len(failures) == 1
    assert failures[0].rule.name == "broken"
    assert "ZeroDivisionError: boom" in failures[0].error
    assert [d.rule.name for d in detections(outcomes)] == ["three-downloads"]
    assert detector.active == ["three-downloads"]


def test_disabled_rules_and_rules_switched_off_in_their_file_do_not_run() -> None:
    off = rule("name: switched-off\ntype: honeytoken\nseverity: high\nenabled: false\n", "switched-off.yaml")
    detector = Detector([THREE_DOWNLOADS, off], disabled=["three-downloads"])
    assert detector.active == []
    assert detector.run([ev(minutes(i), decision="granted", honeytoken=True) for i in range(5)]) == []


def test_horizon_is_the_largest_window() -> None:
    assert Detector([THREE_DOWNLOADS]).horizon == timedelta(minutes=10)
    assert Detector([]).horizon == timedelta(0)


def test_no_event_and_no_matching_event_raise_nothing_with_the_shipped_rules() -> None:
    from datetime import UTC, datetime

    from guard.policies.rules import load_rules
    from guard.settings import REPO_CONFIG_DIR

    rules = load_rules(REPO_CONFIG_DIR / "policies" / "rules").rules
    assert Detector(rules).run([]) == []
    sunday_night = datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
    # Entries no rule is about, dressed with every field a rule looks at.
    noise = [
        ev(
            sunday_night + minutes(i),
            action=action,
            decision="denied",
            status="notice",
            honeytoken=True,
            in_portfolio=False,
            count=5000,
            customer_id=f"c{i}",
            source="crm",
        )
        for i in range(200)
        for action in ("auth.login", "user.update", "hr.resignation")
    ]
    assert Detector(rules).run(noise) == []
