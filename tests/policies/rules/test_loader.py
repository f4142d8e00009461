"""Rule files: the shipped defaults load; every kind of invalid file is refused naming FILE and FIELD."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from guard.policies.rules import RULE_TYPES, RulesInvalid, load_rules
from guard.settings import REPO_CONFIG_DIR

HERE = Path(__file__).parent
INVALID = sorted((HERE / "invalid").glob("*.yaml"))
DEFAULTS = REPO_CONFIG_DIR / "policies" / "rules"


def expected_field(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must say which field is wrong"
    return first.removeprefix("# expect: ").strip()


def test_the_shipped_rules_load_and_cover_every_rule_type() -> None:
    rules = load_rules(DEFAULTS)
    conditions = {r.config.condition.type for r in rules.rules if r.spec.type == "leaver_activity"}  # type: ignore[attr-defined]
    assert {r.spec.type for r in rules.rules} | conditions == set(RULE_TYPES)
    assert {"leaver-bulk-download", "honeytoken"} <= {r.name for r in rules.rules}
    leaver = rules.get("leaver-bulk-download")
    assert leaver is not None
    assert leaver.spec.responses == ["notify", "suspend"]


def test_loading_is_deterministic() -> None:
    assert load_rules(DEFAULTS).digest == load_rules(DEFAULTS).digest


@pytest.mark.parametrize("fixture", INVALID, ids=[p.stem for p in INVALID])
def test_each_invalid_rule_file_is_refused_naming_file_and_field(fixture: Path, tmp_path: Path) -> None:
    shutil.copy(DEFAULTS / "honeytoken.yaml", tmp_path / "good.yaml")
    shutil.copy(fixture, tmp_path / fixture.name)
    with pytest.raises(RulesInvalid) as caught:
        load_rules(tmp_path)
    problems = caught.value.problems
    assert {p.file for p in problems} == {fixture.name}, problems
    assert expected_field(fixture) in {p.field for p in problems}, problems
    assert all(p.message for p in problems)
    assert fixture.name in caught.value.detail


def test_a_name_used_twice_is_refused_on_the_second_file() -> None:
    with pytest.raises(RulesInvalid) as caught:
        load_rules(HERE / "invalid_sets" / "duplicate_name")
    [problem] = caught.value.problems
    assert (problem.file, problem.field) == ("b.yaml", "name")
    assert "a.yaml" in problem.message


def test_every_problem_in_a_directory_is_reported_at_once(tmp_path: Path) -> None:
    for name in ("bad_severity.yaml", "bad_timezone.yaml", "unknown_type.yaml"):
        shutil.copy(HERE / "invalid" / name, tmp_path / name)
    with pytest.raises(RulesInvalid) as caught:
        load_rules(tmp_path)
    assert {p.file for p in caught.value.problems} == {
        "bad_severity.yaml",
        "bad_timezone.yaml",
        "unknown_type.yaml",
    }


def test_a_missing_directory_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(RulesInvalid, match="no such directory"):
        load_rules(tmp_path / "nope")


def test_hidden_and_other_files_are_not_rules(tmp_path: Path) -> None:
    shutil.copy(DEFAULTS / "honeytoken.yaml", tmp_path / "honeytoken.yaml")
    (tmp_path / ".honeytoken.yaml.swp").write_text("garbage: [")
    (tmp_path / ".#lock.yaml").write_text("garbage: [")
    (tmp_path / "README.md").write_text("notes")
    assert [r.name for r in load_rules(tmp_path).rules] == ["honeytoken"]


def test_an_empty_directory_is_an_empty_rule_set(tmp_path: Path) -> None:
    assert load_rules(tmp_path).rules == ()


def test_durations_accept_units_and_seconds(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "name: r\ntype: frequency\nseverity: low\nsuppress_for: 90\noptions: {threshold: 2, window: 2w}\n"
    )
    rule = load_rules(tmp_path).rules[0]
    assert rule.spec.suppress_for.total_seconds() == 90
    assert rule.horizon.days == 14
