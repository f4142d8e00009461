"""The shipped rules against a generated organisation: every exfiltrating leaver is caught, and the
ordinary, the heavy-but-legitimate and the honest leavers raise few alerts. Pure and fast."""

from __future__ import annotations

from collections import Counter

from guard.policies.rules import Detection, Detector, load_rules
from tests.detection.helpers import DEFAULT_RULES
from tests.detection.scenario import generate

# Alerts someone is asked to act on (medium and above) versus low-severity ones that only go in the queue
# (first touch of a colleague's customer happens in ordinary work too).
MAX_FALSE_ALARMS = 5
MAX_LOW_SEVERITY_PER_PERSON_WEEK = 0.05


def test_default_rules_catch_every_exfiltrating_leaver_with_few_false_alarms() -> None:
    org = generate(weeks=6)
    detector = Detector(load_rules(DEFAULT_RULES).rules)
    found = [o for o in detector.run(org.events) if isinstance(o, Detection)]
    bad = {p.name: p for p in org.of_kind("exfiltrator")}

    caught = {
        d.finding.user
        for d in found
        if d.finding.user in bad and d.finding.ts >= bad[d.finding.user].exfil_from  # type: ignore[operator]
    }
    actionable = [d for d in found if d.rule.spec.severity != "low"]
    false_alarms = [d for d in actionable if d.finding.user not in bad]
    false_low = [d for d in found if d.rule.spec.severity == "low" and d.finding.user not in bad]
    recall = len(caught) / len(bad)
    precision = (len(actionable) - len(false_alarms)) / len(actionable)
    kinds = {p.name: p.kind for p in org.people}
    print(
        f"\n{len(org.people)} people, 6 weeks, {len(org.events)} events; {len(bad)} exfiltrating leavers: "
        f"recall {recall:.2f}; medium+ alerts {len(actionable)}, precision {precision:.2f}, false alarms "
        f"{dict(Counter((d.rule.name, kinds[d.finding.user]) for d in false_alarms))}; "
        f"low-severity alerts on others {len(false_low)} {dict(Counter(d.rule.name for d in false_low))}"
    )
    assert recall == 1.0, sorted(set(bad) - caught)
    assert len(false_alarms) <= MAX_FALSE_ALARMS
    assert len(false_low) <= MAX_LOW_SEVERITY_PER_PERSON_WEEK * len(org.people) * 6
    honest_leavers = {p.name for p in org.of_kind("leaver")}
    assert not [
        d for d in false_alarms if d.finding.user in honest_leavers and d.rule.spec.severity != "medium"
    ]
