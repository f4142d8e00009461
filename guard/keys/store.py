"""The signing keys in the database: made by `guard init`, rotated and retired by `guard keys`, loaded by
every host.

Each private key is sealed with AES-256-GCM under a key derived from the master key, bound to its purpose
and id. A key is trusted only because it opens: a row written by someone without the master key does not
load, and a host given a different master key refuses to start and says so.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from guard.errors import ConfigError, Conflict, NotFound
from guard.keys.material import (
    KID_PATTERN,
    PURPOSES,
    Keyring,
    Purpose,
    SigningKey,
    check_private_file,
    derive_key,
)
from guard.keys.models import SigningKeyRecord

_SEAL_INFO = b"guard-signing-keys-v1"
_NONCE = 12
WRONG_MASTER_KEY = (
    "the master key this host was given does not open the signing keys in the database; every host of "
    "one Guard must be given the master key of the first (GUARD_MASTER_KEY or keys/master.key)"
)


def _associated(purpose: str, kid: str) -> bytes:
    return f"guard-signing-key:{purpose}:{kid}".encode()


def seal_private(*, master_key: bytes, purpose: str, kid: str, private: Ed25519PrivateKey) -> bytes:
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(derive_key(master_key, _SEAL_INFO)).encrypt(nonce, raw, _associated(purpose, kid))
    return nonce + sealed


def open_private(*, master_key: bytes, record: SigningKeyRecord) -> Ed25519PrivateKey:
    """The record's private key; ConfigError when the master key does not open it."""
    sealed = record.sealed_private
    try:
        raw = AESGCM(derive_key(master_key, _SEAL_INFO)).decrypt(
            sealed[:_NONCE], sealed[_NONCE:], _associated(record.purpose, record.kid)
        )
    except (InvalidTag, ValueError) as exc:
        raise ConfigError(f"{WRONG_MASTER_KEY} (key {record.kid} does not open)") from exc
    return Ed25519PrivateKey.from_private_bytes(raw)


def _new_kid(purpose: Purpose, now: datetime) -> str:
    return f"{purpose}-{now:%Y%m%d}-{secrets.token_hex(4)}"


def _add(
    *,
    session: Session,
    master_key: bytes,
    purpose: Purpose,
    kid: str,
    private: Ed25519PrivateKey,
    now: datetime,
    retired: bool = False,
) -> str:
    session.add(
        SigningKeyRecord(
            kid=kid,
            purpose=purpose,
            sealed_private=seal_private(master_key=master_key, purpose=purpose, kid=kid, private=private),
            created_at=now,
            retired_at=now if retired else None,
        )
    )
    session.flush()
    return kid


def _add_new(*, session: Session, master_key: bytes, purpose: Purpose, now: datetime) -> str:
    return _add(
        session=session,
        master_key=master_key,
        purpose=purpose,
        kid=_new_kid(purpose, now),
        private=Ed25519PrivateKey.generate(),
        now=now,
    )


def rotate(*, session: Session, master_key: bytes, purpose: Purpose, now: datetime) -> str:
    """A new active signing key for `purpose`; older keys stay for verification. Refused when this master
    key does not open the keys already there (a new key under another master key would split the set)."""
    load_keyring(session=session, master_key=master_key)
    return _add_new(session=session, master_key=master_key, purpose=purpose, now=now)


def retire(*, session: Session, kid: str, now: datetime) -> None:
    """Stop trusting a JWT signing key (say, a leaked one): every token it signed is refused from the next
    request on, on every host. The active key cannot be retired: rotate first."""
    record = session.scalars(
        select(SigningKeyRecord).where(SigningKeyRecord.kid == kid, SigningKeyRecord.purpose == "jwt")
    ).first()
    if record is None:
        raise NotFound(f"no JWT signing key {kid!r}")
    if record.retired_at is not None:
        raise Conflict(f"{kid} is already retired")
    if record.id == _active_id(session=session, purpose="jwt"):
        raise Conflict(f"{kid} is the active signing key; run `guard keys rotate jwt` first, then retire it")
    record.retired_at = now


def _active_id(*, session: Session, purpose: Purpose) -> int | None:
    return session.scalars(
        select(SigningKeyRecord.id)
        .where(SigningKeyRecord.purpose == purpose)
        .order_by(SigningKeyRecord.id.desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class KeyListing:
    kid: str
    purpose: str
    created_at: datetime
    state: str  # active (signs), verifies (an older key), retired (a JWT key that verifies nothing)


def list_keys(*, session: Session) -> list[KeyListing]:
    """Every signing key, newest first within each purpose (`guard keys list`)."""
    records = session.scalars(
        select(SigningKeyRecord).order_by(SigningKeyRecord.purpose, SigningKeyRecord.id.desc())
    ).all()
    listed, seen = [], set()
    for record in records:
        state = "retired" if record.retired_at is not None else "verifies"
        if record.purpose not in seen:
            state = "active"
            seen.add(record.purpose)
        listed.append(KeyListing(record.kid, record.purpose, record.created_at, state))
    return listed


def has_signing_keys(*, session: Session) -> bool:
    return bool(session.scalar(select(exists().where(SigningKeyRecord.id.is_not(None)))))


def create_missing(
    *, session: Session, master_key: bytes, now: datetime, key_files: Path | None
) -> list[str]:
    """What `guard init` does: a signing key for each purpose that has none. A purpose with key files
    from an earlier release in `key_files` takes those (same ids, same active and retired keys), so tokens
    and checkpoints signed before the upgrade keep verifying. Returns what was created."""
    created: list[str] = []
    for purpose in PURPOSES:
        if _active_id(session=session, purpose=purpose) is not None:
            continue
        folder = key_files / purpose if key_files is not None else None
        imported = (
            _import_files(session=session, master_key=master_key, purpose=purpose, folder=folder, now=now)
            if folder is not None
            else []
        )
        if imported:
            created.append(f"{purpose} signing keys {', '.join(imported)} (moved from {folder})")
            continue
        kid = _add_new(session=session, master_key=master_key, purpose=purpose, now=now)
        created.append(f"{purpose} signing key {kid}")
    return created


def _import_files(
    *, session: Session, master_key: bytes, purpose: Purpose, folder: Path, now: datetime
) -> list[str]:
    active_file = folder / "ACTIVE"
    if not active_file.exists():
        return []
    active = active_file.read_text().strip()
    retired_file = folder / "RETIRED"
    retired = set(retired_file.read_text().split()) if retired_file.exists() else set()
    kids = sorted(p.stem for p in folder.glob("*.pem") if KID_PATTERN.match(p.stem) and p.stem != active)
    imported = []
    for kid in [*kids, active]:  # the active key last: the newest row signs
        path = folder / f"{kid}.pem"
        if not path.exists():
            raise ConfigError(f"the active {purpose} key {kid} has no private key file in {folder}")
        check_private_file(path)
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ConfigError(f"{path} is not an Ed25519 private key")
        imported.append(
            _add(
                session=session,
                master_key=master_key,
                purpose=purpose,
                kid=kid,
                private=private,
                now=now,
                retired=purpose == "jwt" and kid in retired and kid != active,
            )
        )
    return imported


def load_keyring(*, session: Session, master_key: bytes) -> Keyring:
    """Every signing key in the database, opened with this host's master key."""
    records = session.scalars(select(SigningKeyRecord).order_by(SigningKeyRecord.id)).all()
    signing: dict[str, SigningKey] = {}
    public: dict[str, dict[str, Ed25519PublicKey]] = {purpose: {} for purpose in PURPOSES}
    for record in records:
        if record.purpose not in public:
            continue
        key = SigningKey(record.kid, open_private(master_key=master_key, record=record))
        signing[record.purpose] = key  # ordered by id: the newest wins
        if record.retired_at is None or record.purpose == "audit":
            public[record.purpose][record.kid] = key.private.public_key()
    missing = [purpose for purpose in PURPOSES if purpose not in signing]
    if missing:
        raise ConfigError(f"no {' or '.join(missing)} signing key in the database; run `guard init`")
    return Keyring(
        jwt_signing=signing["jwt"],
        jwt_public=public["jwt"],
        audit_signing=signing["audit"],
        audit_public=public["audit"],
        master_key=master_key,
    )


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
