"""`honeytoken`: any touch of a decoy document. Nobody has a reason to open one."""

from __future__ import annotations

from datetime import timedelta

from guard.policies.rules.base import Finding, RuleConfig, RuleType
from guard.policies.rules.events import Event


class HoneytokenConfig(RuleConfig):
    pass


class Honeytoken(RuleType[HoneytokenConfig]):
    name = "honeytoken"
    config_model = HoneytokenConfig

    @property
    def horizon(self) -> timedelta:
        return timedelta(0)

    def observe(self, event: Event) -> Finding | None:
        if not event.honeytoken:
            return None
        documents = ", ".join(event.document_ids) or event.target
        return Finding(
            user=event.actor,
            ts=event.ts,
            observed=1,
            threshold=1,
            window=None,
            evidence=(event.seq,),
            summary=f"{event.actor}: {event.action} of decoy document {documents}",
            details={"document_ids": list(event.document_ids)},
        )
