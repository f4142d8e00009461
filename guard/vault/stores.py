"""The blob store a name stands for (`vault_store`, `guard vault migrate --to`)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from guard.errors import InvalidInput
from guard.settings import S3Settings
from guard.vault.blobs import STORES, BlobStore, DatabaseBlobs, FilesystemBlobs


def open_store(
    name: str, *, files: FilesystemBlobs, read: sessionmaker[Session], s3: S3Settings
) -> BlobStore:
    """Every store reads a blob still in the vault folder (sealed before a switch) until it is moved."""
    if name == "filesystem":
        return files
    if name == "database":
        return DatabaseBlobs(read, files)
    if name == "s3":
        from guard.s3 import s3_client  # boto3 loads only where a bucket is in use
        from guard.vault.s3 import S3Blobs

        client = s3_client(s3, what="vault_store")
        return S3Blobs(client=client, bucket=s3.bucket or "", prefix=s3.prefix, read=read, earlier=files)
    raise InvalidInput(f"the blob store must be one of: {', '.join(STORES)}")
