"""Envelope encryption of one document.

Each document gets its own random 256-bit data key. The bytes are sealed with AES-256-GCM under that key;
the data key is sealed (wrapped) with AES-256-GCM under the master key. Both seals bind the document id as
associated data, so a blob copied onto another document's name does not open. Blob layout:

    MAGIC (8) | wrap nonce (12) | wrapped data key (32 + 16 tag) | nonce (12) | ciphertext + tag (16)
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from guard.errors import Unavailable

MAGIC = b"GVAULT1\n"
NONCE = 12
WRAPPED = 32 + 16
HEADER = len(MAGIC) + NONCE + WRAPPED + NONCE
KEY_AD = b"guard-vault-data-key-v1:"
BLOB_AD = b"guard-vault-blob-v1:"


class VaultDamaged(Unavailable):
    """A blob is missing, truncated or altered: it fails authentication and is never served."""


def seal(master_key: bytes, document_id: str, plaintext: bytes) -> bytes:
    data_key = AESGCM.generate_key(bit_length=256)
    wrap_nonce, nonce = os.urandom(NONCE), os.urandom(NONCE)
    wrapped = AESGCM(master_key).encrypt(wrap_nonce, data_key, KEY_AD + document_id.encode())
    sealed = AESGCM(data_key).encrypt(nonce, plaintext, BLOB_AD + document_id.encode())
    return b"".join((MAGIC, wrap_nonce, wrapped, nonce, sealed))


def unseal(master_key: bytes, document_id: str, blob: bytes) -> bytes:
    if len(blob) < HEADER + 16 or not blob.startswith(MAGIC):
        raise VaultDamaged(f"the stored copy of document {document_id} is not a vault blob")
    at = len(MAGIC)
    wrap_nonce, at = blob[at : at + NONCE], at + NONCE
    wrapped, at = blob[at : at + WRAPPED], at + WRAPPED
    nonce, sealed = blob[at : at + NONCE], blob[at + NONCE :]
    try:
        data_key = AESGCM(master_key).decrypt(wrap_nonce, wrapped, KEY_AD + document_id.encode())
        return AESGCM(data_key).decrypt(nonce, sealed, BLOB_AD + document_id.encode())
    except InvalidTag as exc:
        raise VaultDamaged(
            f"the stored copy of document {document_id} failed its integrity check; it will not be served"
        ) from exc
