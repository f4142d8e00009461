"""Detection rule types: pure classes fed with events, configured by YAML files, in a closed registry."""

from guard.policies.rules.base import Finding, RuleConfig, RuleType
from guard.policies.rules.detector import Detection, Detector, EntrySkipped, Outcome, RuleFailure
from guard.policies.rules.events import DETECTION_ACTOR, Event
from guard.policies.rules.loader import (
    LoadedRule,
    RuleProblem,
    RuleSet,
    RulesInvalid,
    load_rules,
    parse_rule,
)
from guard.policies.rules.registry import RULE_TYPES

__all__ = [
    "DETECTION_ACTOR",
    "RULE_TYPES",
    "Detection",
    "Detector",
    "EntrySkipped",
    "Event",
    "Finding",
    "LoadedRule",
    "Outcome",
    "RuleConfig",
    "RuleFailure",
    "RuleProblem",
    "RuleSet",
    "RuleType",
    "RulesInvalid",
    "load_rules",
    "parse_rule",
]
