"""One S3 client for what Guard keeps in an S3-compatible bucket (the `s3` blob store, the `s3` witness).
boto3 is imported only here, and only where a bucket is in use."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from guard.errors import ConfigError, Unavailable
from guard.settings import S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

S3Errors = (BotoCoreError, ClientError)
MISSING = ("NoSuchKey", "404", "NotFound")


def s3_client(settings: S3Settings, *, what: str) -> S3Client:
    if not settings.bucket:
        raise ConfigError(f"{what} is s3 but no bucket is set: set GUARD_S3__BUCKET")
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        config=Config(
            connect_timeout=settings.timeout_seconds,
            read_timeout=settings.timeout_seconds,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )
    return client


def under(prefix: str, folder: str) -> str:
    """`<prefix>/<folder>/`, whatever slashes the prefix came with."""
    return f"{prefix.strip('/')}/{folder}/" if prefix.strip("/") else f"{folder}/"


def is_missing(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and str(exc.response.get("Error", {}).get("Code", "")) in MISSING


def unreachable(what: str, exc: Exception) -> Unavailable:
    return Unavailable(f"{what} cannot be reached: {exc}")
