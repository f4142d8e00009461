"""Witnesses: copies of every signed checkpoint kept outside the database, so that someone who rewrites the
tables cannot make them agree with the log. Two kinds, behind one interface:

- `file` (the default): one JSON line per checkpoint, fsynced on every append. With several hosts, put it
  on the mount they share.
- `s3`: one object per checkpoint under `<s3.prefix>/witness/<log id>/`, written only if absent (never
  overwritten by Guard; turn on S3 Object Lock on the bucket to make that a guarantee).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import orjson

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from guard.settings import Settings

TAIL_BYTES = 64 * 1024


class Witness(Protocol):
    description: str  # for messages: "the witness file /var/guard/audit-witness.jsonl"

    def append(self, line: bytes) -> None:
        """Keep one checkpoint's JSON for good; durable when this returns."""

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """(position, content) of every checkpoint kept, in the order they were kept."""

    def last(self) -> bytes | None: ...

    def exists(self) -> bool: ...


class FileWitness:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"the witness file {path}"

    def append(self, line: bytes) -> None:
        append_line(self.path, line)

    def lines(self) -> Iterator[tuple[int, bytes]]:
        return read_lines(self.path)

    def last(self) -> bytes | None:
        return last_line(self.path)

    def exists(self) -> bool:
        return self.path.exists()


class S3Witness:
    def __init__(self, *, client: S3Client, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self.description = f"the witness in s3://{bucket}/{prefix}"
        # The newest object seen and its content: `last()` runs before every checkpoint poll, and keys sort
        # in checkpoint order, so only objects after this one need listing.
        self._newest: tuple[str, bytes] | None = None

    def _key(self, line: bytes) -> str:
        size = int(orjson.loads(line)["size"])
        # Zero-padded size first: listing order is checkpoint order, and the last key is the newest.
        return f"{self._prefix}{size:020d}-{hashlib.sha256(line.strip()).hexdigest()[:16]}.json"

    def append(self, line: bytes) -> None:
        from guard.s3 import S3Errors, unreachable

        key, body = self._key(line), line.strip()
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body, IfNoneMatch="*")
        except S3Errors as exc:
            if "PreconditionFailed" not in str(exc):  # otherwise kept already: a catch-up after a crash
                raise unreachable("the witness bucket", exc) from exc
        if self._newest is None or key > self._newest[0]:
            self._newest = (key, body)

    def _keys(self, *, after: str | None = None) -> list[str]:
        from guard.s3 import S3Errors, unreachable

        keys: list[str] = []
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=self._prefix, StartAfter=after or ""
            ):
                keys.extend(item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(".json"))
        except S3Errors as exc:
            raise unreachable("the witness bucket", exc) from exc
        return sorted(keys)

    def _get(self, key: str) -> bytes:
        from guard.s3 import S3Errors, unreachable

        try:
            return self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read().strip()
        except S3Errors as exc:
            raise unreachable("the witness bucket", exc) from exc

    def lines(self) -> Iterator[tuple[int, bytes]]:
        for number, key in enumerate(self._keys(), start=1):
            yield number, self._get(key)

    def last(self) -> bytes | None:
        newer = self._keys(after=self._newest[0] if self._newest else None)
        if newer:
            self._newest = (newer[-1], self._get(newer[-1]))
        return self._newest[1] if self._newest else None

    def exists(self) -> bool:
        return bool(self._keys())


def open_witness(settings: Settings) -> Witness:
    """The witness the settings name (`audit.witness`)."""
    if settings.audit.witness == "s3":
        from guard.s3 import s3_client, under

        client = s3_client(settings.s3, what="audit.witness")
        prefix = under(settings.s3.prefix, f"witness/{settings.audit.log_id}")
        return S3Witness(client=client, bucket=settings.s3.bucket or "", prefix=prefix)
    return FileWitness(settings.witness_path)


def append_line(path: Path, line: bytes) -> None:
    """Append `line` and a newline with one O_APPEND write, then fsync (and the folder on creation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        data = memoryview(line.rstrip(b"\n") + b"\n")
        while data:
            written = os.write(fd, data)
            data = data[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, content) of every complete line; a torn last line (no newline yet) is skipped."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                return
            content = raw.strip()
            if content:
                yield number, content


def last_line(path: Path) -> bytes | None:
    """The last complete line, reading only the tail of the file."""
    if not path.exists():
        return None
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - TAIL_BYTES))
        tail = handle.read()
    complete = tail[: tail.rfind(b"\n") + 1] if b"\n" in tail else b""
    lines = [line for line in complete.split(b"\n") if line.strip()]
    return lines[-1].strip() if lines else None
