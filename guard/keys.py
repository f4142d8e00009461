"""Key material kept outside the database: JWT signing keys, audit checkpoint keys, vault master key.

Layout under the keys directory (owner-only permissions):
    jwt/<kid>.pem, jwt/ACTIVE        Ed25519 keys that sign access tokens
    jwt/RETIRED                       key ids no longer trusted (a compromised key): their tokens are refused
    audit/<kid>.pem, audit/<kid>.pub  Ed25519 keys that sign audit checkpoints (public keys outlive rotation)
    audit/ACTIVE
    master.key                        32 random bytes, base64, wrapping every document's data key
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

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
    jwt_public: dict[str, Ed25519PublicKey]
    audit_signing: SigningKey
    audit_public: dict[str, Ed25519PublicKey]
    master_key: bytes


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _new_kid(purpose: Purpose) -> str:
    return f"{purpose}-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


def _add_signing_key(keys_dir: Path, purpose: Purpose) -> str:
    folder = keys_dir / purpose
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    kid = _new_kid(purpose)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(folder / f"{kid}.pem", pem)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (folder / f"{kid}.pub").write_bytes(public)
    active = folder / "ACTIVE"
    tmp = folder / "ACTIVE.tmp"
    tmp.write_text(kid + "\n")
    tmp.replace(active)
    return kid


def ensure_keys(keys_dir: Path) -> list[str]:
    """Create whatever key material is missing; return a description of what was created."""
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    created: list[str] = []
    for purpose in PURPOSES:
        if not (keys_dir / purpose / "ACTIVE").exists():
            created.append(f"{purpose} signing key {_add_signing_key(keys_dir, purpose)}")
    master = keys_dir / MASTER_KEY_FILE
    if not master.exists():
        _write_private(master, base64.b64encode(secrets.token_bytes(32)) + b"\n")
        created.append("vault master key")
    return created


def retire(keys_dir: Path, kid: str) -> None:
    """Stop trusting a JWT signing key (say, a leaked one): every token it signed is refused once the
    servers have reloaded their keys (within `auth.keys_reload_seconds`). The active key cannot be retired:
    rotate first."""
    folder = keys_dir / "jwt"
    if not KID_PATTERN.match(kid) or not kid.startswith("jwt-") or not (folder / f"{kid}.pub").exists():
        raise ConfigError(f"no JWT signing key {kid!r} in {folder}")
    if (folder / "ACTIVE").read_text().strip() == kid:
        raise ConfigError(
            f"{kid} is the active signing key; run `guard keys rotate jwt` first, then retire it"
        )
    retired = retired_kids(folder)
    if kid in retired:
        raise ConfigError(f"{kid} is already retired")
    tmp = folder / "RETIRED.tmp"
    tmp.write_text("".join(f"{k}\n" for k in sorted({*retired, kid})))
    tmp.replace(folder / "RETIRED")


def retired_kids(folder: Path) -> set[str]:
    path = folder / "RETIRED"
    if not path.exists():
        return set()
    return {line.strip() for line in path.read_text().splitlines() if KID_PATTERN.match(line.strip())}


def rotate(keys_dir: Path, purpose: Purpose) -> str:
    """Make a new active signing key; older keys stay for verification."""
    if not keys_dir.exists():
        raise ConfigError(f"no keys directory at {keys_dir}; run `guard init` first")
    return _add_signing_key(keys_dir, purpose)


def _check_private_file(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by others (mode {oct(mode & 0o777)}); run `chmod 600 {path}`")


def _load_purpose(keys_dir: Path, purpose: Purpose) -> tuple[SigningKey, dict[str, Ed25519PublicKey]]:
    folder = keys_dir / purpose
    active_file = folder / "ACTIVE"
    if not active_file.exists():
        raise ConfigError(f"no {purpose} signing key in {keys_dir}; run `guard init`")
    active_kid = active_file.read_text().strip()
    if not KID_PATTERN.match(active_kid):
        raise ConfigError(f"{active_file} names an invalid key id {active_kid!r}")
    public: dict[str, Ed25519PublicKey] = {}
    for pub_file in sorted(folder.glob("*.pub")):
        kid = pub_file.stem
        if not KID_PATTERN.match(kid):
            continue
        key = serialization.load_pem_public_key(pub_file.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(f"{pub_file} is not an Ed25519 public key")
        public[kid] = key
    private_file = folder / f"{active_kid}.pem"
    if not private_file.exists():
        raise ConfigError(f"the active {purpose} key {active_kid} has no private key file")
    _check_private_file(private_file)
    private = serialization.load_pem_private_key(private_file.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigError(f"{private_file} is not an Ed25519 private key")
    public[active_kid] = private.public_key()
    if purpose == "jwt":  # retired keys verify nothing (audit public keys stay: old checkpoints need them)
        for kid in retired_kids(folder) - {active_kid}:
            public.pop(kid, None)
    return SigningKey(active_kid, private), public


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


def load_jwt_keys(keys_dir: Path) -> tuple[SigningKey, dict[str, Ed25519PublicKey]]:
    """The JWT signing key and the public keys trusted now (read again by running servers)."""
    return _load_purpose(keys_dir, "jwt")


def load_keyring(keys_dir: Path, *, master_key_override: str | None = None) -> Keyring:
    if not keys_dir.exists():
        raise ConfigError(f"no keys directory at {keys_dir}; run `guard init` to create the keys")
    jwt_signing, jwt_public = _load_purpose(keys_dir, "jwt")
    audit_signing, audit_public = _load_purpose(keys_dir, "audit")
    if master_key_override is not None:
        master = decode_master_key(master_key_override, source="GUARD_MASTER_KEY")
    else:
        master_file = keys_dir / MASTER_KEY_FILE
        if not master_file.exists():
            raise ConfigError(f"no vault master key at {master_file}; run `guard init`")
        _check_private_file(master_file)
        master = decode_master_key(master_file.read_text(), source=str(master_file))
    return Keyring(jwt_signing, jwt_public, audit_signing, audit_public, master)
