"""The master key, the one secret each host is given, and the key types built from it.

The master key comes from `GUARD_MASTER_KEY` or from `master.key` in the keys directory (owner-only). It
wraps every document's data key and seals the signing keys kept in the database (guard.keys.store); the
other keys Guard needs (content tokens, cursors, CSRF) are derived from it with HKDF.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from guard.errors import ConfigError

Purpose = Literal["jwt", "audit"]
PURPOSES: tuple[Purpose, ...] = ("jwt", "audit")
KID_PATTERN = re.compile(r"^(jwt|audit)-\d{8}-[0-9a-f]{8}$")
MASTER_KEY_FILE = "master.key"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey


@dataclass(frozen=True)
class Keyring:
    jwt_signing: SigningKey
    jwt_public: dict[str, Ed25519PublicKey]  # retired keys are left out: they verify nothing
    audit_signing: SigningKey
    audit_public: dict[str, Ed25519PublicKey]  # every audit key ever made: old checkpoints need them
    master_key: bytes


def derive_key(master_key: bytes, info: bytes) -> bytes:
    """A 256-bit key for one use, derived from the master key (a different `info` for every use)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_key)


def write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def check_private_file(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by others (mode {oct(mode & 0o777)}); run `chmod 600 {path}`")


def decode_master_key(text: str, *, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise ConfigError(f"{source} is not valid base64") from exc
    if len(key) != 32:
        raise ConfigError(f"{source} must hold 32 bytes (AES-256), found {len(key)}")
    if len(set(key)) < 8:
        raise ConfigError(f"{source} looks like a placeholder, not a random key")
    return key


def master_key_present(keys_dir: Path, *, override: str | None) -> bool:
    return override is not None or (keys_dir / MASTER_KEY_FILE).exists()


def ensure_master_key(keys_dir: Path) -> bool:
    """Create `master.key` when the keys directory has none; True when it did."""
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    path = keys_dir / MASTER_KEY_FILE
    if path.exists():
        return False
    write_private(path, base64.b64encode(secrets.token_bytes(32)) + b"\n")
    return True


def load_master_key(keys_dir: Path, *, override: str | None) -> bytes:
    """`override` is GUARD_MASTER_KEY when set; otherwise the keys directory's `master.key`."""
    if override is not None:
        return decode_master_key(override, source="GUARD_MASTER_KEY")
    path = keys_dir / MASTER_KEY_FILE
    if not path.exists():
        raise ConfigError(f"no master key: set GUARD_MASTER_KEY or run `guard init` to create {path}")
    check_private_file(path)
    return decode_master_key(path.read_text(), source=str(path))
