"""The `s3` blob store: sealed blobs as objects in an S3-compatible bucket, for large deployments.

Blobs are sealed before they leave Guard (guard.vault.envelope): the bucket only ever holds ciphertext.
The object is written before the document's transaction commits, and its SHA-256 is written in that
transaction (`vault_object_digests`), so `guard vault scrub` can tell an object changed behind Guard's back,
and an object whose upload crashed before the commit is an orphan that scrub removes after the grace period.
An unreachable bucket is Unavailable (a 503), never an open door.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guard.errors import Unavailable
from guard.s3 import S3Errors, is_missing, under, unreachable
from guard.vault.blobs import BLOB_SUFFIX, FilesystemBlobs
from guard.vault.envelope import VaultDamaged
from guard.vault.models import VaultObjectDigest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "the vault's S3 bucket"


def _unavailable(exc: Exception) -> Unavailable:
    return unreachable(BUCKET, exc)


class S3Blobs:
    name = "s3"
    leaves_orphans = True  # an object written by an upload whose transaction then failed

    def __init__(
        self,
        *,
        client: S3Client,
        bucket: str,
        prefix: str,
        read: sessionmaker[Session],
        earlier: FilesystemBlobs,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = under(prefix, "vault")
        self._read = read
        self._earlier = earlier

    def key(self, document_id: str) -> str:
        return f"{self._prefix}{document_id}{BLOB_SUFFIX}"

    def write(self, document_id: str, blob: bytes, *, session: Session | None) -> None:
        if session is None:
            raise Unavailable(
                "the s3 blob store records a blob's digest only with its document's transaction"
            )
        try:
            self._client.put_object(Bucket=self._bucket, Key=self.key(document_id), Body=blob)
        except S3Errors as exc:
            raise _unavailable(exc) from exc
        digest = hashlib.sha256(blob).hexdigest()
        session.add(VaultObjectDigest(document_id=document_id, sha256=digest, stored_at=datetime.now(UTC)))
        session.flush()

    def _get(self, document_id: str) -> bytes | None:
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=self.key(document_id))
            return answer["Body"].read()
        except S3Errors as exc:
            if is_missing(exc):
                return None
            raise _unavailable(exc) from exc

    def read(self, document_id: str) -> bytes:
        blob = self._get(document_id)
        if blob is not None:
            return blob
        if self._earlier.has(document_id):
            return self._earlier.read(document_id)
        raise VaultDamaged(f"the stored copy of document {document_id} is missing")

    def altered(self, document_id: str, blob: bytes) -> bool:
        """Whether the object differs from the digest recorded when it was written (scrub's check)."""
        with self._read() as session:
            recorded = session.scalar(
                select(VaultObjectDigest.sha256).where(VaultObjectDigest.document_id == document_id)
            )
        return recorded is not None and recorded != hashlib.sha256(blob).hexdigest()

    def forget(self, document_id: str) -> None:
        try:
            self._client.delete_object(Bucket=self._bucket, Key=self.key(document_id))
        except S3Errors as exc:
            raise _unavailable(exc) from exc

    def has(self, document_id: str) -> bool:
        return self._head(document_id) is not None

    def _head(self, document_id: str) -> Any:
        try:
            return self._client.head_object(Bucket=self._bucket, Key=self.key(document_id))
        except S3Errors as exc:
            if is_missing(exc):
                return None
            raise _unavailable(exc) from exc

    def stored_ids(self) -> set[str]:
        found: set[str] = set()
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=self._prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(self._prefix) :]
                    if name.endswith(BLOB_SUFFIX) and "/" not in name:
                        found.add(name[: -len(BLOB_SUFFIX)])
        except S3Errors as exc:
            raise _unavailable(exc) from exc
        return found

    def written_at(self, document_id: str) -> datetime:
        head = self._head(document_id)
        if head is None:
            return datetime.max.replace(tzinfo=UTC)
        modified: datetime = head["LastModified"]
        return modified.astimezone(UTC)
