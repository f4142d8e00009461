"""The access policy: a typed model of `config/policies/access.yaml` and the in-line decision. Pure.

The broker gathers plain facts (who asks, which document, how many looks are used) and this module says
granted, pending or denied, which rule decided, why, and how many looks are left. Counting itself is the
broker's job (an atomic conditional update in the database); this module only reads the count it is given.

Order of the rules, first match wins:
 1. agreement      the current confidentiality agreement is not accepted             -> denied
 2. not_allowed    the action is switched off for the classification                 -> denied
 3. notice_profile the person is on notice and the profile refuses the action        -> denied
 4. quota          no looks left: `over_quota` says pending (an approver may allow one more) or denied
 5. outside_portfolio  denied when the policy says so (approvals come below)
 6. review_required    detection asked for an approval of everything the person asks -> pending
 7. approval_required  the classification needs approval for the action              -> pending
 8. outside_portfolio  needs approval                                                -> pending
 9. quota / open   granted, consuming one look when a quota applies
Honeytoken documents are not a fact here at all: they are decided exactly like any other document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from guard.bounds import check_text, visible_length
from guard.errors import InvalidInput
from guard.policies.rules.durations import PositiveDuration, describe
from guard.types import Role, Status

Action = Literal["view", "download", "export"]
Classification = Literal["public", "internal", "confidential", "restricted"]
Outcome = Literal["granted", "pending", "denied"]
ACTIONS: tuple[Action, ...] = ("view", "download", "export")
CLASSIFICATIONS: tuple[Classification, ...] = ("public", "internal", "confidential", "restricted")
LIFETIME: Literal["lifetime"] = "lifetime"
DEFAULT_APPROVERS: dict[Classification, int] = {
    "public": 1,
    "internal": 1,
    "confidential": 1,
    "restricted": 2,
}
PLURAL = {"view": "views", "download": "downloads", "export": "exports"}


class PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionRule(PolicyModel):
    """One action on one classification."""

    quota: int | None = Field(3, ge=0)  # looks per person per document; null: unlimited
    window: Literal["lifetime"] | PositiveDuration = (
        LIFETIME  # counted over the document's lifetime or a window
    )
    approval: bool = False  # every request needs approval first
    allowed: bool = True  # false: refused outright


class ReasonRule(PolicyModel):
    min_length: int = Field(10, ge=0, le=500)
    pattern: str | None = None  # a regular expression the reason must contain a match for

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a valid regular expression: {exc}") from exc
        return value


class NoticeProfile(PolicyModel):
    """What changes for people on notice (resigned, still working). Only ever stricter than the base."""

    deny: list[Action] = []
    quota_caps: dict[Action, int] = {}  # the smaller of this and the rule's quota applies
    over_quota: Literal["approval", "deny"] | None = None
    outside_portfolio: Literal["allow", "approval", "deny"] | None = None

    @field_validator("quota_caps")
    @classmethod
    def _not_negative(cls, value: dict[Action, int]) -> dict[Action, int]:
        if any(cap < 0 for cap in value.values()):
            raise ValueError("quota caps cannot be negative")
        return value


class ApprovalRules(PolicyModel):
    """Separation of duties. A requester never approves their own request; that is not configurable."""

    approver_roles: list[Role] = [Role.APPROVER, Role.ADMIN]
    author_may_approve: bool = False
    custodian_may_approve: bool = True
    on_notice_may_approve: bool = False
    required: dict[Classification, int] = Field(default_factory=lambda: dict(DEFAULT_APPROVERS))

    @field_validator("required")
    @classmethod
    def _every_classification(cls, value: dict[Classification, int]) -> dict[Classification, int]:
        missing = [c for c in CLASSIFICATIONS if c not in value]
        if missing:
            raise ValueError(f"name the number of approvers for: {', '.join(missing)}")
        if any(n < 1 or n > 10 for n in value.values()):
            raise ValueError("each classification needs between 1 and 10 approvers")
        return value

    @field_validator("approver_roles")
    @classmethod
    def _some_role(cls, value: list[Role]) -> list[Role]:
        if not value:
            raise ValueError("at least one role must be able to approve")
        return value


class AccessPolicy(PolicyModel):
    version: Literal[1] = 1
    reason: ReasonRule = ReasonRule()
    rules: dict[Action, dict[Classification, ActionRule]]
    over_quota: Literal["approval", "deny"] = "approval"
    outside_portfolio: dict[Classification, Literal["allow", "approval", "deny"]]
    notice: NoticeProfile = NoticeProfile()
    approvals: ApprovalRules = ApprovalRules()

    @model_validator(mode="after")
    def _complete_tables(self) -> AccessPolicy:
        for action in ACTIONS:
            table = self.rules.get(action)
            if table is None:
                raise ValueError(f"rules.{action} is missing; every action needs a rule per classification")
            missing = [c for c in CLASSIFICATIONS if c not in table]
            if missing:
                raise ValueError(f"rules.{action} has no rule for: {', '.join(missing)}")
        missing = [c for c in CLASSIFICATIONS if c not in self.outside_portfolio]
        if missing:
            raise ValueError(f"outside_portfolio has no entry for: {', '.join(missing)}")
        return self

    def rule(self, action: Action, classification: Classification) -> ActionRule:
        return self.rules[action][classification]

    def windows(self) -> set[timedelta]:
        return {r.window for t in self.rules.values() for r in t.values() if isinstance(r.window, timedelta)}


@dataclass(frozen=True)
class PersonFacts:
    username: str
    status: str
    roles: frozenset[str]
    review_reason: str | None = None  # set by a detection response: everything needs approval


@dataclass(frozen=True)
class DocumentFacts:
    id: str
    title: str
    classification: Classification
    in_portfolio: bool  # the person owns the document's customer
    keeper: bool = False  # the person wrote the document or keeps it: need-to-know like the owner


@dataclass(frozen=True)
class Limit:
    """The quota that applies to one person, document and action."""

    count: int | None
    window: timedelta | None  # None: the document's lifetime

    def period(self, now: datetime) -> str:
        """The counter bucket: one for the lifetime, or fixed windows aligned to the Unix epoch."""
        return period_key(self.window, now)

    def left(self, used: int) -> int | None:
        return None if self.count is None else max(0, self.count - used)

    def describe(self) -> str:
        return LIFETIME if self.window is None else f"per {describe(self.window)}"


def period_key(window: timedelta | None, now: datetime) -> str:
    if window is None:
        return LIFETIME
    size = int(window.total_seconds())
    start = int(now.timestamp()) // size * size
    return f"{start}+{size}"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    rule: str
    explanation: str
    views_left: int | None  # looks left of the asked action after this decision; None: unlimited
    approvals_required: int = 0
    counts: bool = False  # a grant that consumes one look of a quota

    @property
    def granted(self) -> bool:
        return self.outcome == "granted"


def check_reason(policy: AccessPolicy, reason: str) -> str:
    """The reason as it will be recorded, or InvalidInput (422) saying what is missing. Only characters a
    reader can see count towards the minimum: NUL, control and zero-width characters are no reason."""
    check_text(reason, "reason", multiline=True)
    text = " ".join(reason.split())
    rule = policy.reason
    if visible_length(text) < rule.min_length:
        raise InvalidInput(
            f"give a reason of at least {rule.min_length} characters saying why you need the document"
        )
    if rule.pattern and not re.search(rule.pattern, text):
        raise InvalidInput(f"the reason must match the pattern {rule.pattern!r} (for example a case number)")
    return text


def limit_for(policy: AccessPolicy, *, status: str, action: Action, classification: Classification) -> Limit:
    rule = policy.rule(action, classification)
    count = rule.quota
    if status == Status.NOTICE:
        cap = policy.notice.quota_caps.get(action)
        if cap is not None:
            count = cap if count is None else min(count, cap)
    return Limit(count=count, window=rule.window if isinstance(rule.window, timedelta) else None)


def _denied(rule: str, explanation: str, left: int | None) -> Decision:
    return Decision("denied", rule, explanation, left)


def decide(
    policy: AccessPolicy,
    *,
    person: PersonFacts,
    document: DocumentFacts,
    action: Action,
    used: int,
    agreement_accepted: bool,
) -> Decision:
    """Decide one request given the looks already used in the current counting period."""
    cls = document.classification
    limit = limit_for(policy, status=person.status, action=action, classification=cls)
    left = limit.left(used)
    if not agreement_accepted:
        return _denied("agreement", "accept the current confidentiality agreement first", left)
    rule = policy.rule(action, cls)
    if not rule.allowed:
        return _denied("not_allowed", f"{action} of {cls} documents is not allowed", left)
    on_notice = person.status == Status.NOTICE
    if on_notice and action in policy.notice.deny:
        return _denied("notice_profile", f"people on notice cannot {action} documents", left)
    required = policy.approvals.required[cls]
    if left is not None and left <= 0:
        over = (policy.notice.over_quota if on_notice else None) or policy.over_quota
        spent = f"you have used all {limit.count} {PLURAL[action]} of this document ({limit.describe()})"
        if over == "deny":
            return _denied("quota", spent, 0)
        return Decision("pending", "quota", f"{spent}; an approver may allow one more", 0, required)
    outside = "allow"
    if not (document.in_portfolio or document.keeper):
        outside = (policy.notice.outside_portfolio if on_notice else None) or policy.outside_portfolio[cls]
    if outside == "deny":
        return _denied("outside_portfolio", "this customer is not in your portfolio", left)
    if person.review_reason:
        return Decision(
            "pending",
            "review_required",
            "your requests currently need an approver's sign-off",
            left,
            required,
        )
    if rule.approval:
        explanation = f"to {action} a {cls} document needs {required} approver(s)"
        return Decision("pending", "approval_required", explanation, left, required)
    if outside == "approval":
        explanation = "this customer is not in your portfolio; an approver must agree"
        return Decision("pending", "outside_portfolio", explanation, left, required)
    if left is None:
        return Decision("granted", "open", f"no quota applies to {action} of {cls} documents", None)
    after = left - 1
    explanation = f"{after} of {limit.count} {PLURAL[action]} left ({limit.describe()})"
    return Decision("granted", "quota", explanation, after, counts=True)


def decide_export(
    policy: AccessPolicy,
    *,
    person: PersonFacts,
    documents: Sequence[tuple[DocumentFacts, int]],
    agreement_accepted: bool,
    approval_above: int,
) -> Decision:
    """A bulk export: every document is decided as an `export`; the archive is refused if one is refused,
    pending if one needs approval or there are more than `approval_above` documents."""
    if not agreement_accepted:
        return _denied("agreement", "accept the current confidentiality agreement first", None)
    if person.status == Status.NOTICE and "export" in policy.notice.deny:
        return _denied("notice_profile", "people on notice cannot export documents", None)
    each = [
        (
            doc,
            decide(policy, person=person, document=doc, action="export", used=used, agreement_accepted=True),
        )
        for doc, used in documents
    ]
    lefts = [d.views_left for _, d in each if d.views_left is not None]
    left = min(lefts) if lefts else None
    required = max((policy.approvals.required[doc.classification] for doc, _ in each), default=1)
    for doc, decision in each:
        if decision.outcome == "denied":
            return _denied(decision.rule, f"{doc.title!r}: {decision.explanation}", left)
    for doc, decision in each:
        if decision.outcome == "pending":
            explanation = f"{doc.title!r}: {decision.explanation}"
            return Decision("pending", decision.rule, explanation, left, required)
    if len(each) > approval_above:
        explanation = f"exports of more than {approval_above} documents need an approver's sign-off"
        return Decision("pending", "export_size", explanation, left, required)
    counts = any(d.counts for _, d in each)
    n = len(each)
    return Decision("granted", "quota", f"export of {n} document(s) allowed", left, counts=counts)


@dataclass(frozen=True)
class Refusal:
    rule: str
    explanation: str


def grant_refusal(
    policy: AccessPolicy,
    *,
    person: PersonFacts,
    action: Action,
    classification: Classification,
    approved: bool,
) -> Refusal | None:
    """Why a grant decided earlier may no longer be collected under the rules in force now, or None.

    The look was counted when the grant was made; what can change since is the person's state (notice, a
    review hold) and the policy itself."""
    rule = policy.rule(action, classification)
    if not rule.allowed:
        return Refusal("not_allowed", f"{action} of {classification} documents is no longer allowed")
    if person.status == Status.NOTICE and action in policy.notice.deny:
        return Refusal("notice_profile", f"people on notice cannot {action} documents")
    if approved:
        return None
    if person.review_reason:
        return Refusal("review_required", "your requests now need an approver's sign-off; ask again")
    if rule.approval:
        return Refusal("approval_required", f"to {action} a {classification} document now needs an approver")
    return None


@dataclass(frozen=True)
class ApproverFacts:
    user_id: str
    roles: frozenset[str]
    status: str


@dataclass(frozen=True)
class RequestFacts:
    requester_id: str
    author_ids: frozenset[str]
    custodian_ids: frozenset[str]


def approval_refusal(policy: AccessPolicy, *, approver: ApproverFacts, request: RequestFacts) -> str | None:
    """Why this person may not approve (or reject) this request, or None when they may."""
    rules = policy.approvals
    if approver.user_id == request.requester_id:
        return "you cannot approve or reject your own request"
    if not approver.roles.intersection(rules.approver_roles):
        return f"approving needs one of the roles: {', '.join(rules.approver_roles)}"
    if approver.status == Status.NOTICE and not rules.on_notice_may_approve:
        return "people on notice cannot approve or reject requests"
    if approver.user_id in request.author_ids and not rules.author_may_approve:
        return "the author of a document may not approve access to it"
    if approver.user_id in request.custodian_ids and not rules.custodian_may_approve:
        return "the custodian of a document may not approve access to it"
    return None
