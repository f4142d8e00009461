"""Rule files: one rule per YAML file in a directory, read with `yaml.safe_load`.

Every problem names the file and the field, so `guard rules check` and a failed reload can say exactly
what to fix. A set with any problem is refused whole.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from guard.errors import ConfigError
from guard.policies.rules.base import RuleConfig, RuleType
from guard.policies.rules.registry import RULE_TYPES
from guard.policies.rules.spec import RuleSpec

RULE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RuleProblem:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class RulesInvalid(ConfigError):
    def __init__(self, problems: list[RuleProblem]) -> None:
        super().__init__("invalid rules: " + "; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadedRule:
    spec: RuleSpec
    config: RuleConfig
    file: str
    digest: str
    horizon: timedelta

    @property
    def name(self) -> str:
        return self.spec.name

    def make(self) -> RuleType[Any]:
        """A fresh instance with empty state."""
        return RULE_TYPES[self.spec.type](self.config)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[LoadedRule, ...]
    digest: str

    @property
    def horizon(self) -> timedelta:
        return max((r.horizon for r in self.rules if r.spec.enabled), default=timedelta(0))

    def get(self, name: str) -> LoadedRule | None:
        return next((r for r in self.rules if r.name == name), None)


def _field(loc: Iterable[int | str], prefix: str = "") -> str:
    parts: list[str] = [prefix] if prefix else []
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        elif previous == "condition" and part in RULE_TYPES:
            pass  # the discriminator pydantic adds for a leaver condition; `type` already says it
        else:
            parts.append(part)
        previous = part
    return ".".join(parts) or "(file)"


def _problems(exc: ValidationError, file: str, prefix: str = "") -> list[RuleProblem]:
    return [
        RuleProblem(
            file,
            _field(err["loc"], prefix),
            "unknown field (check the spelling)"
            if err["type"] == "extra_forbidden"
            else err["msg"].removeprefix("Value error, "),
        )
        for err in exc.errors()
    ]


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def parse_rule(text: str, file: str) -> LoadedRule:
    """One rule from the text of its file; RulesInvalid lists every problem found."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesInvalid([RuleProblem(file, "(yaml)", f"{where}{problem}")]) from None
    if raw is None:
        raise RulesInvalid([RuleProblem(file, "(file)", "the file is empty; it must hold one rule")])
    if not isinstance(raw, dict):
        raise RulesInvalid(
            [
                RuleProblem(
                    file, "(file)", f"a rule file holds one mapping of fields, not a {type(raw).__name__}"
                )
            ]
        )
    problems: list[RuleProblem] = []
    spec: RuleSpec | None = None
    try:
        spec = RuleSpec.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_problems(exc, file))
    type_name = raw.get("type")
    rule_type = RULE_TYPES.get(type_name) if isinstance(type_name, str) else None
    if isinstance(type_name, str) and rule_type is None:
        known = ", ".join(sorted(RULE_TYPES))
        hint = (
            " (rule types come from a fixed list; import paths are not accepted)" if "." in type_name else ""
        )
        problems.append(RuleProblem(file, "type", f"unknown rule type {type_name!r}{hint}; known: {known}"))
    config: RuleConfig | None = None
    options = raw.get("options", {})
    if rule_type is not None and isinstance(options, dict):
        try:
            config = rule_type.config_model.model_validate(options)
        except ValidationError as exc:
            problems.extend(_problems(exc, file, "options"))
    if problems or spec is None or config is None or rule_type is None:
        raise RulesInvalid(problems)
    return LoadedRule(
        spec=spec, config=config, file=file, digest=_digest(raw), horizon=rule_type(config).horizon
    )


def rule_files(directory: Path) -> list[Path]:
    """Rule files in `directory`; hidden files (editor swap and lock files) are not rules."""
    return sorted(
        p for p in directory.iterdir() if p.suffix in RULE_SUFFIXES and not p.name.startswith((".", "#"))
    )


def load_rules(directory: Path) -> RuleSet:
    """Every rule in `directory`, or RulesInvalid naming the file and field of every problem."""
    if not directory.is_dir():
        raise RulesInvalid([RuleProblem(str(directory), "(directory)", "no such directory")])
    problems: list[RuleProblem] = []
    rules: list[LoadedRule] = []
    owners: dict[str, str] = {}
    for path in rule_files(directory):
        try:
            rule = parse_rule(path.read_text(encoding="utf-8"), path.name)
        except RulesInvalid as exc:
            problems.extend(exc.problems)
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(RuleProblem(path.name, "(file)", f"cannot be read: {exc}"))
            continue
        if rule.name in owners:
            problems.append(
                RuleProblem(path.name, "name", f"{rule.name!r} is already the name of {owners[rule.name]}")
            )
            continue
        owners[rule.name] = path.name
        rules.append(rule)
    if problems:
        raise RulesInvalid(problems)
    rules.sort(key=lambda r: r.name)
    return RuleSet(rules=tuple(rules), digest=_digest([[r.name, r.digest] for r in rules]))
