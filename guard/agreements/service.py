"""The confidentiality agreement: loaded from `config/agreement.yaml`, accepted per person and version."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from guard.agreements.models import AgreementAcceptance
from guard.audit.log import record
from guard.auth.service import ClientInfo
from guard.errors import ConfigError, InvalidInput


class Agreement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1)


def load_agreement(path: Path) -> Agreement:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the agreement {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML") from exc
    try:
        return Agreement.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: invalid agreement: {problems}") from exc


class AgreementStore:
    """The agreement in force; swapped when the file changes (a new version needs a new acceptance)."""

    def __init__(self, agreement: Agreement) -> None:
        self._lock = threading.Lock()
        self._agreement = agreement

    @property
    def current(self) -> Agreement:
        with self._lock:
            return self._agreement

    def swap(self, agreement: Agreement) -> None:
        with self._lock:
            self._agreement = agreement


def has_accepted(*, session: Session, user_id: str, version: str) -> bool:
    found = session.scalar(
        select(AgreementAcceptance.id).where(
            AgreementAcceptance.user_id == user_id, AgreementAcceptance.version == version
        )
    )
    return found is not None


def accept(
    *,
    session: Session,
    user_id: str,
    username: str,
    version: str,
    current: Agreement,
    client: ClientInfo,
    now: datetime,
) -> AgreementAcceptance:
    """Record acceptance of the current version; accepting it again returns the first acceptance."""
    if version != current.version:
        raise InvalidInput(
            f"version {version!r} is not the agreement in force; read and accept version {current.version!r}"
        )
    existing = session.scalars(
        select(AgreementAcceptance).where(
            AgreementAcceptance.user_id == user_id, AgreementAcceptance.version == version
        )
    ).first()
    if existing is not None:
        return existing
    acceptance = AgreementAcceptance(
        user_id=user_id,
        version=version,
        accepted_at=now,
        client=(client.address or "")[:64] or None,
        user_agent=(client.user_agent or "")[:300] or None,
    )
    session.add(acceptance)
    session.flush()
    record(
        session=session,
        actor=username,
        action="agreement.accept",
        target=f"user:{username}",
        payload={"version": version, **client.as_payload()},
        ts=now,
    )
    return acceptance
