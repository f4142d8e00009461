"""The vault directory: one encrypted blob per document, written atomically with owner-only modes.

Every time the broker touches a blob it first drops a marker into `<vault>/.inflight/` and removes it
afterwards, so the vault watcher can tell the broker's own opens from anyone else's (see
guard.vault.watch for why this works across worker processes).

The vault also keeps a canary, `.<CANARY_ID>.canary`: a small known plaintext sealed with the master key
the vault was first used with. A master key that does not open it is the wrong key, and Guard says so
(readiness, `guard serve`) instead of failing on every document. Its name carries a document-shaped id so
that the broker's reads of it are announced like any other and the watcher does not record them.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy.orm import Session

from guard.errors import Unavailable
from guard.vault.blobs import BLOB_SUFFIX, BlobStore, FilesystemBlobs, write_file
from guard.vault.envelope import HEADER, MAGIC, VaultDamaged, seal, unseal

INFLIGHT = ".inflight"
DOCUMENT_ID = re.compile(r"^[0-9a-f]{32}$")
# A blob `<id>.blob` or a temporary file `.<id>.<random>.tmp` while one is being written.
BLOB_NAME = re.compile(r"^\.?([0-9a-f]{32})\.")
_sequence = itertools.count()
CANARY_ID = "ca" * 16  # never a real document id: those are random (guard.db.new_id)
CANARY_FILE = f".{CANARY_ID}.canary"
CANARY_PLAINTEXT = b"guard vault canary v1"
CANARY_TRIES = 3  # an existing vault without a canary: how many blobs may vouch for the key


def document_of(filename: str) -> str | None:
    """The document id a file in the vault belongs to, if its name says so."""
    match = BLOB_NAME.match(filename)
    return match.group(1) if match else None


class Vault:
    """Seals and opens document blobs; where they are kept is the blob store's business (guard.vault.blobs).
    The folder stays in every case: it holds the canary and the broker's in-flight markers."""

    def __init__(self, root: Path, master_key: bytes, blobs: BlobStore | None = None) -> None:
        self.root = root
        self.inflight = root / INFLIGHT
        self._master_key = master_key
        self.files = FilesystemBlobs(root, self.touching, self.blob_path)
        self.blobs: BlobStore = blobs or self.files

    def ensure(self) -> None:
        for folder in (self.root, self.inflight):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)

    def blob_path(self, document_id: str) -> Path:
        if not DOCUMENT_ID.match(document_id):
            raise ValueError(f"not a document id: {document_id!r}")
        return self.root / f"{document_id}{BLOB_SUFFIX}"

    @contextmanager
    def touching(self, document_id: str) -> Iterator[None]:
        """Announce the broker's own access to one blob for as long as it lasts."""
        marker = self.inflight / f"{document_id}.{os.getpid()}.{next(_sequence)}"
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:  # a fresh vault: create it first
            self.ensure()
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        try:
            yield
        finally:
            with suppress(FileNotFoundError):
                marker.unlink()

    def put(self, document_id: str, plaintext: bytes, *, session: Session | None = None) -> None:
        """Seal and store; the blob appears complete or not at all (in `session`'s transaction for the
        database store)."""
        self.blobs.write(document_id, seal(self._master_key, document_id, plaintext), session=session)

    @property
    def canary_path(self) -> Path:
        return self.root / CANARY_FILE

    def ensure_canary(self) -> bool:
        """Seal the canary with the master key unless there is one; True when it was written now.

        A vault that already holds blobs but no canary (made before canaries existed) gets one only when
        the master key opens one of its blobs: a wrong key must never become the vault's canary."""
        if self.canary_path.exists():
            return False
        stored = sorted(self.stored_ids())
        if stored and not any(self._opens(document_id) for document_id in stored[:CANARY_TRIES]):
            return False
        blob = seal(self._master_key, CANARY_ID, CANARY_PLAINTEXT)
        with self.touching(CANARY_ID):  # a link: never replaces a canary another process just wrote
            return write_file(self.root, CANARY_ID, blob, self.canary_path, replace=False)

    def canary_problem(self) -> str | None:
        """None when the master key in use opens the canary, else what is wrong (read from disk now)."""
        with self.touching(CANARY_ID):
            try:
                blob = self.canary_path.read_bytes()
            except FileNotFoundError:
                return f"no vault canary at {self.canary_path}; run `guard init` with the right master key"
            except OSError as exc:
                return f"the vault canary cannot be read: {exc.strerror or exc}"
        if len(blob) < HEADER + 16 or not blob.startswith(MAGIC):
            return f"the vault canary ({self.canary_path}) is damaged; restore it from a backup"
        try:
            opened = unseal(self._master_key, CANARY_ID, blob)
        except VaultDamaged:
            opened = None
        if opened != CANARY_PLAINTEXT:
            return (
                "the master key does not open the vault canary: it is not the key this vault was sealed with"
            )
        return None

    def _opens(self, document_id: str) -> bool:
        try:
            self.get(document_id)
        except Unavailable:  # VaultDamaged included
            return False
        return True

    def read_blob(self, document_id: str) -> bytes:
        return self.blobs.read(document_id)

    def get(self, document_id: str) -> bytes:
        """Decrypted bytes, or VaultDamaged when the blob is missing or fails authentication."""
        return self.unseal(document_id, self.read_blob(document_id))

    def unseal(self, document_id: str, sealed: bytes) -> bytes:
        return unseal(self._master_key, document_id, sealed)

    def remove(self, document_id: str) -> None:
        """Forget the blob of an upload whose transaction rolled back."""
        self.blobs.forget(document_id)

    def stored_ids(self) -> set[str]:
        """Document ids that have a blob in the store in use (temporary files excluded)."""
        return self.blobs.stored_ids()
