"""The access policy, pure: loading (every invalid file has its own fixture) and decisions on plain facts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from guard.errors import ConfigError, InvalidInput
from guard.policies.access import (
    AccessPolicy,
    ApproverFacts,
    DocumentFacts,
    PersonFacts,
    RequestFacts,
    approval_refusal,
    check_reason,
    decide,
    decide_export,
    limit_for,
    period_key,
)
from guard.policies.store import PolicyStore, load_access_policy
from guard.settings import REPO_CONFIG_DIR

FIXTURES = Path(__file__).parent / "access_fixtures"
SHIPPED = REPO_CONFIG_DIR / "policies" / "access.yaml"
ANN = PersonFacts(username="ann", status="active", roles=frozenset({"staff"}))
ON_NOTICE = PersonFacts(username="ann", status="notice", roles=frozenset({"staff"}))


def doc(classification: str = "internal", *, mine: bool = True, keeper: bool = False) -> DocumentFacts:
    return DocumentFacts(
        id="d1",
        title="Plan",
        classification=classification,  # type: ignore[arg-type]
        in_portfolio=mine,
        keeper=keeper,
    )


@pytest.fixture(scope="module")
def policy() -> AccessPolicy:
    return load_access_policy(SHIPPED)


def ask(
    policy: AccessPolicy,
    document: DocumentFacts,
    used: int = 0,
    *,
    person: PersonFacts = ANN,
    action: str = "view",
    accepted: bool = True,
):  # type: ignore[no-untyped-def]
    return decide(
        policy,
        person=person,
        document=document,
        action=action,
        used=used,
        agreement_accepted=accepted,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("fixture", "names"),
    [
        ("unknown_key.yaml", "over_qouta"),
        ("unknown_nested_key.yaml", "rules.view.internal.limit"),
        ("missing_classification.yaml", "restricted"),
        ("missing_action.yaml", "rules.export"),
        ("bad_window.yaml", "rules.view.internal.window"),
        ("negative_quota.yaml", "rules.view.internal.quota"),
        ("bad_reason_pattern.yaml", "reason.pattern"),
        ("unknown_role.yaml", "approvals.approver_roles.0"),
        ("zero_approvers.yaml", "approvals.required"),
        ("bad_outside_portfolio.yaml", "outside_portfolio.internal"),
        ("notice_unknown_action.yaml", "notice.deny.0"),
        ("not_yaml.yaml", "line"),
        ("not_a_mapping.yaml", "mapping"),
        ("python_object.yaml", "YAML"),
    ],
)
def test_invalid_policy_files_name_the_file_and_the_field(fixture: str, names: str) -> None:
    path = FIXTURES / fixture
    with pytest.raises(ConfigError) as caught:
        load_access_policy(path)
    assert str(path) in caught.value.detail
    assert names in caught.value.detail


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_access_policy(tmp_path / "nope.yaml")


def test_shipped_and_minimal_policies_load(policy: AccessPolicy) -> None:
    minimal = load_access_policy(FIXTURES / "valid_minimal.yaml")
    assert minimal.rule("view", "internal").quota == 3
    assert policy.rule("view", "internal").quota == 3
    assert policy.approvals.required["restricted"] == 2


def test_three_looks_then_the_over_quota_outcome(policy: AccessPolicy) -> None:
    answers = [ask(policy, doc(), used) for used in range(4)]
    assert [a.outcome for a in answers] == ["granted", "granted", "granted", "pending"]
    assert [a.views_left for a in answers] == [2, 1, 0, 0]
    assert answers[0].counts
    assert not answers[3].counts
    assert answers[3].rule == "quota"
    strict = policy.model_copy(update={"over_quota": "deny"})
    assert ask(strict, doc(), 3).outcome == "denied"


def test_rule_order(policy: AccessPolicy) -> None:
    assert ask(policy, doc(), accepted=False).rule == "agreement"
    assert ask(policy, doc("confidential"), action="download").rule == "approval_required"
    assert ask(policy, doc(mine=False)).rule == "outside_portfolio"
    assert ask(policy, doc(mine=False, keeper=True)).outcome == "granted"  # the custodian has need-to-know
    assert ask(policy, doc("public", mine=False)).outcome == "granted"
    held = PersonFacts(username="ann", status="active", roles=frozenset(), review_reason="alert 7")
    assert ask(policy, doc(), person=held).rule == "review_required"
    assert ask(policy, doc("restricted")).approvals_required == 2


def test_notice_profile(policy: AccessPolicy) -> None:
    assert limit_for(policy, status="notice", action="view", classification="internal").count == 1
    assert ask(policy, doc(), 0, person=ON_NOTICE).outcome == "granted"
    spent = ask(policy, doc(), 1, person=ON_NOTICE)
    assert (spent.outcome, spent.rule) == ("denied", "quota")
    assert ask(policy, doc(), person=ON_NOTICE, action="download").rule == "notice_profile"
    assert ask(policy, doc(mine=False), person=ON_NOTICE).outcome == "denied"


def test_windows_count_per_period() -> None:
    policy = load_access_policy(FIXTURES / "valid_minimal.yaml")
    daily = policy.model_copy(
        update={
            "rules": {
                **policy.rules,
                "view": {
                    **policy.rules["view"],
                    "internal": policy.rule("view", "internal").model_copy(
                        update={"window": timedelta(days=1)}
                    ),
                },
            }
        }
    )
    limit = limit_for(daily, status="active", action="view", classification="internal")
    monday = datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert limit.period(monday) == limit.period(monday + timedelta(hours=14))
    assert limit.period(monday) != limit.period(monday + timedelta(hours=15))  # past UTC midnight
    assert period_key(None, monday) == "lifetime"
    assert "per 1d" in ask(daily, doc()).explanation


def test_export_is_all_or_nothing(policy: AccessPolicy) -> None:
    both = [(doc("internal"), 0), (doc("confidential"), 1)]
    spent = decide_export(policy, person=ANN, documents=both, agreement_accepted=True, approval_above=10)
    assert (spent.outcome, spent.rule) == ("pending", "quota")
    fresh = [(doc("internal"), 0), (doc("confidential"), 0)]
    granted = decide_export(policy, person=ANN, documents=fresh, agreement_accepted=True, approval_above=10)
    assert (granted.outcome, granted.views_left) == ("granted", 0)  # the confidential one had 1 export
    many = decide_export(policy, person=ANN, documents=fresh, agreement_accepted=True, approval_above=1)
    assert many.rule == "export_size"
    notice = decide_export(
        policy, person=ON_NOTICE, documents=fresh, agreement_accepted=True, approval_above=10
    )
    assert (notice.outcome, notice.rule) == ("denied", "notice_profile")


def test_reason_rules(policy: AccessPolicy) -> None:
    assert check_reason(policy, "  renewal   talks with Acme ") == "renewal talks with Acme"
    with pytest.raises(InvalidInput):
        check_reason(policy, "short")
    with_case = policy.model_copy(
        update={"reason": policy.reason.model_copy(update={"pattern": r"case \d+"})}
    )
    assert check_reason(with_case, "follow-up on case 1234")
    with pytest.raises(InvalidInput, match="pattern"):
        check_reason(with_case, "follow-up on the renewal")


def test_separation_of_duties(policy: AccessPolicy) -> None:
    request = RequestFacts(
        requester_id="ann", author_ids=frozenset({"wes"}), custodian_ids=frozenset({"kim"})
    )

    def refusal(user: str, *roles: str, status: str = "active") -> str | None:
        return approval_refusal(
            policy, approver=ApproverFacts(user, frozenset(roles), status), request=request
        )

    assert "own request" in (refusal("ann", "approver") or "")
    assert "roles" in (refusal("bob", "staff") or "")
    assert "author" in (refusal("wes", "approver") or "")
    assert refusal("kim", "approver") is None  # custodians may approve by default
    assert "notice" in (refusal("bob", "approver", status="notice") or "")
    assert refusal("bob", "admin") is None


def test_store_swaps_atomically_for_readers(policy: AccessPolicy) -> None:
    store = PolicyStore(policy, source=SHIPPED)
    strict = policy.model_copy(update={"over_quota": "deny"})
    seen: set[str] = set()

    def read() -> None:
        for _ in range(2000):
            seen.add(store.current.over_quota)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    assert store.swap(strict) is policy
    for thread in readers:
        thread.join()
    assert store.current is strict
    assert seen <= {"approval", "deny"}
    assert store.reload().over_quota == "approval"  # back to the file's content
