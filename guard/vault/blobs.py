"""Where sealed blobs live, behind one small interface: `filesystem` (one file per document under the
vault folder, the SQLite default) or `database` (a row of `vault_blobs`, written in the transaction of the
document row, so a crash can leave no orphan; the PostgreSQL default). Blobs are sealed before they reach
a store (guard.vault.envelope), so a store only keeps bytes it cannot read."""

from __future__ import annotations

import os
import secrets
from contextlib import AbstractContextManager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guard.errors import Unavailable
from guard.vault.envelope import VaultDamaged
from guard.vault.models import VaultBlob

BLOB_SUFFIX = ".blob"
STORES = ("filesystem", "database", "s3")


class Toucher(Protocol):
    def __call__(self, document_id: str) -> AbstractContextManager[None]: ...


class BlobStore(Protocol):
    name: str
    leaves_orphans: bool  # whether a crashed upload can leave a blob with no document (scrub removes them)

    def write(self, document_id: str, blob: bytes, *, session: Session | None) -> None:
        """Keep the sealed blob; a store that lives in the database writes it in `session`."""

    def read(self, document_id: str) -> bytes:
        """The sealed blob, or VaultDamaged when it is missing."""

    def forget(self, document_id: str) -> None:
        """After the upload's transaction rolled back: nothing of it may stay."""

    def has(self, document_id: str) -> bool: ...

    def stored_ids(self) -> set[str]: ...

    def written_at(self, document_id: str) -> datetime: ...

    def altered(self, document_id: str, blob: bytes) -> bool:
        """Whether `blob` differs from what the store recorded of it when it was written."""


class FilesystemBlobs:
    """`<vault>/<document id>.blob`, written atomically (temporary file, fsync, rename) and owner-only.
    Every touch is announced through `touching` so the vault watcher knows the broker's own opens."""

    name = "filesystem"
    leaves_orphans = True

    def __init__(self, root: Path, touching: Toucher, path_of: PathOf) -> None:
        self.root = root
        self._touching = touching
        self._path_of = path_of

    def write(self, document_id: str, blob: bytes, *, session: Session | None) -> None:
        with self._touching(document_id):
            write_file(self.root, document_id, blob, self._path_of(document_id), replace=True)

    def read(self, document_id: str) -> bytes:
        with self._touching(document_id):
            try:
                return self._path_of(document_id).read_bytes()
            except FileNotFoundError as exc:
                raise VaultDamaged(f"the stored copy of document {document_id} is missing") from exc
            except OSError as exc:
                raise Unavailable(f"the vault cannot be read: {exc.strerror or exc}") from exc

    def forget(self, document_id: str) -> None:
        with self._touching(document_id), suppress(FileNotFoundError):
            self._path_of(document_id).unlink()

    def has(self, document_id: str) -> bool:
        return self._path_of(document_id).exists()

    def stored_ids(self) -> set[str]:
        if not self.root.exists():
            return set()
        found = set()
        for name in os.listdir(self.root):
            if name.endswith(BLOB_SUFFIX):
                with suppress(ValueError):
                    self._path_of(name[: -len(BLOB_SUFFIX)])
                    found.add(name[: -len(BLOB_SUFFIX)])
        return found

    def written_at(self, document_id: str) -> datetime:
        try:
            return datetime.fromtimestamp(self._path_of(document_id).stat().st_mtime, UTC)
        except FileNotFoundError:
            return datetime.max.replace(tzinfo=UTC)

    def altered(self, document_id: str, blob: bytes) -> bool:
        return False  # nothing recorded beside the file: the seal itself is the check


class PathOf(Protocol):
    def __call__(self, document_id: str) -> Path: ...


class DatabaseBlobs:
    """Rows of `vault_blobs`: written in the document's own transaction and append-only (triggers refuse
    UPDATE and DELETE, as for the audit log). A blob sealed before the switch, still in the vault folder,
    is read from there until `guard vault migrate --to database` has moved it."""

    name = "database"
    leaves_orphans = False  # the row goes with its document's transaction

    def __init__(self, read: sessionmaker[Session], earlier: FilesystemBlobs) -> None:
        self._read = read
        self._earlier = earlier

    def write(self, document_id: str, blob: bytes, *, session: Session | None) -> None:
        if session is None:
            raise Unavailable("the database blob store writes a blob only with its document's transaction")
        session.add(VaultBlob(document_id=document_id, blob=blob, stored_at=datetime.now(UTC)))
        session.flush()

    def read(self, document_id: str) -> bytes:
        with self._read() as session:
            blob = session.scalar(select(VaultBlob.blob).where(VaultBlob.document_id == document_id))
        if blob is not None:
            return bytes(blob)
        if self._earlier.has(document_id):
            return self._earlier.read(document_id)
        raise VaultDamaged(f"the stored copy of document {document_id} is missing")

    def forget(self, document_id: str) -> None:
        """Nothing to do: the row went with the rolled-back transaction."""

    def has(self, document_id: str) -> bool:
        with self._read() as session:
            return session.get(VaultBlob, document_id) is not None

    def stored_ids(self) -> set[str]:
        with self._read() as session:
            return set(session.scalars(select(VaultBlob.document_id)))

    def written_at(self, document_id: str) -> datetime:
        with self._read() as session:
            stored = session.scalar(select(VaultBlob.stored_at).where(VaultBlob.document_id == document_id))
        return stored or datetime.max.replace(tzinfo=UTC)

    def altered(self, document_id: str, blob: bytes) -> bool:
        return False  # append-only rows: the triggers refuse a change


def write_file(folder: Path, name: str, data: bytes, final: Path, *, replace: bool) -> bool:
    """Write `final` whole or not at all, owner-only: a temporary file, fsync, then a rename that
    replaces (`replace`) or a link that never does (False when `final` already exists)."""
    temp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temp, final)
        else:
            os.link(temp, final)
    except FileExistsError:
        return False
    finally:
        with suppress(FileNotFoundError):
            temp.unlink()
    sync_directory(folder)
    return True


def sync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
