"""Backtest: what a rule set would have raised over a stretch of the audit log. Reads, never writes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from guard.detection.stream import iter_events
from guard.policies.rules import Detection, Detector, RuleFailure, RuleSet


@dataclass
class BacktestReport:
    entries: int = 0
    detections: list[Detection] = field(default_factory=list)
    failures: list[RuleFailure] = field(default_factory=list)

    def per_rule(self) -> Counter[str]:
        return Counter(d.rule.name for d in self.detections)


def backtest(*, session: Session, rules: RuleSet, since: datetime) -> BacktestReport:
    report = BacktestReport()
    detector = Detector(rules.rules)
    for event in iter_events(session=session, since=since):
        report.entries += 1
        for outcome in detector.observe(event):
            if isinstance(outcome, Detection):
                report.detections.append(outcome)
            elif isinstance(outcome, RuleFailure):
                report.failures.append(outcome)
    return report
