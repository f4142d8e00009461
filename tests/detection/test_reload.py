"""Hot reload of config/policies: the whole set is validated, swapped at once, or refused and reported."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from guard.clock import FixedClock
from guard.detection.reload import PolicyReloader
from guard.detection.rulestore import RuleStore
from guard.errors import Unavailable
from guard.policies.store import PolicyStore
from guard.runtime import Runtime, build_runtime
from guard.settings import REPO_CONFIG_DIR
from tests.detection.helpers import audit_actions
from tests.support.people import People
from tests.support.settings import guard_settings

NEW_RULE = "name: new-rule\ntype: honeytoken\nseverity: high\n"


def wait_for(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for the reload"
        time.sleep(0.05)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(REPO_CONFIG_DIR, target)
    return target


@pytest.fixture
def served(
    config_dir: Path, guard_home: Path, db_url: str, clock: FixedClock
) -> Iterator[tuple[TestClient, Runtime]]:
    """The app with its background workers on: the real watcher on the temp copy of the policies."""
    settings = guard_settings(guard_home, db_url, config_dir=config_dir, background_workers=True)
    runtime = build_runtime(settings, clock=clock)
    with TestClient(create_app(runtime=runtime)) as client:
        yield client, runtime
    runtime.close()


def test_an_invalid_rule_file_keeps_the_old_rules_and_is_reported(
    served: tuple[TestClient, Runtime], config_dir: Path
) -> None:
    client, runtime = served
    sec = People(client, runtime).add("sec", "security")

    def rules() -> dict[str, object]:
        response = client.get("/rules", headers=sec.auth)
        assert response.status_code == 200
        body: dict[str, object] = response.json()
        return body

    before = rules()
    names = [r["name"] for r in before["rules"]]  # type: ignore[attr-defined]
    assert "leaver-bulk-download" in names

    (config_dir / "policies" / "rules" / "broken.yaml").write_text(
        "name: broken\ntype: honeytoken\nseverity: urgent\n"
    )
    wait_for(lambda: rules()["last_reload"]["ok"] is False)  # type: ignore[index]

    after = rules()
    assert [r["name"] for r in after["rules"]] == names  # type: ignore[attr-defined]
    assert after["digest"] == before["digest"]
    [problem] = after["last_reload"]["problems"]  # type: ignore[index]
    assert (problem["file"], problem["field"]) == ("rules/broken.yaml", "severity")
    assert "broken.yaml" in after["last_reload"]["error"]  # type: ignore[index]
    assert audit_actions(runtime, "policy.") == ["policy.reload_failed"]

    (config_dir / "policies" / "rules" / "broken.yaml").write_text(NEW_RULE)
    wait_for(lambda: "new-rule" in [r["name"] for r in rules()["rules"]])  # type: ignore[attr-defined]
    assert rules()["last_reload"]["ok"] is True  # type: ignore[index]
    assert audit_actions(runtime, "policy.") == ["policy.reload_failed", "policy.reloaded"]


@pytest.fixture
def reloader(config_dir: Path, runtime: Runtime) -> Iterator[tuple[PolicyReloader, RuleStore, PolicyStore]]:
    policies = config_dir / "policies"
    rules = RuleStore(policies / "rules")
    rules.current(runtime.clock.now())
    access = PolicyStore.from_file(policies / "access.yaml")
    watcher = PolicyReloader(
        directory=policies,
        rules=rules,
        access=access,
        db=runtime.db,
        clock=runtime.clock,
        debounce_seconds=1.0,
    )
    yield watcher, rules, access
    watcher.stop()


def test_an_invalid_access_policy_refuses_the_whole_set(
    reloader: tuple[PolicyReloader, RuleStore, PolicyStore], config_dir: Path, runtime: Runtime
) -> None:
    watcher, rules, access = reloader
    old_rules, old_access = rules.peek(), access.current
    (config_dir / "policies" / "rules" / "new-rule.yaml").write_text(NEW_RULE)
    (config_dir / "policies" / "access.yaml").write_text("not_a_setting: 1\n")
    assert watcher.reload() is False
    assert rules.peek() is old_rules
    assert access.current is old_access
    outcome = rules.last_outcome
    assert outcome is not None
    assert not outcome.ok
    assert [p.file for p in outcome.problems] == ["access.yaml"]
    assert audit_actions(runtime, "policy.") == ["policy.reload_failed"]
    # Nothing changed since: no second attempt, no second entry.
    assert watcher.reload() is None

    shutil.copy(REPO_CONFIG_DIR / "policies" / "access.yaml", config_dir / "policies" / "access.yaml")
    assert watcher.reload() is True
    current = rules.peek()
    assert current is not None
    assert current.get("new-rule") is not None
    assert access.current is not old_access
    assert audit_actions(runtime, "policy.") == ["policy.reload_failed", "policy.reloaded"]


def test_a_burst_of_changes_is_read_once_it_settles(
    reloader: tuple[PolicyReloader, RuleStore, PolicyStore], config_dir: Path, runtime: Runtime
) -> None:
    watcher, rules, _ = reloader
    watcher.start()
    folder = config_dir / "policies" / "rules"
    # Renaming a rule's file passes through a state with the name twice; read only once it settles.
    (folder / "honeytoken-renamed.yaml").write_text((folder / "honeytoken.yaml").read_text())
    (folder / "honeytoken.yaml").unlink()

    def renamed() -> bool:
        current = rules.peek()
        rule = current.get("honeytoken") if current is not None else None
        return rule is not None and rule.file == "honeytoken-renamed.yaml"

    wait_for(renamed)
    assert audit_actions(runtime, "policy.") == ["policy.reloaded"]


def test_a_reload_that_cannot_be_audited_changes_nothing_until_it_can(
    reloader: tuple[PolicyReloader, RuleStore, PolicyStore], config_dir: Path, runtime: Runtime
) -> None:
    watcher, rules, access = reloader
    old_rules, old_access = rules.peek(), access.current
    (config_dir / "policies" / "rules" / "new-rule.yaml").write_text(NEW_RULE)
    with runtime.db.engine.begin() as connection:  # the audit log cannot be appended to
        head = connection.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()
        connection.execute(text("DELETE FROM audit_head"))
    with pytest.raises(Unavailable, match="nothing was reloaded"):
        watcher.reload()
    assert rules.peek() is old_rules
    assert access.current is old_access
    with runtime.db.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :seq, :hash)"),
            {"seq": head[0], "hash": head[1]},
        )
    assert watcher.reload() is True  # the same change, now that it can be recorded
    assert rules.peek() is not old_rules
    assert audit_actions(runtime, "policy.") == ["policy.reloaded"]
