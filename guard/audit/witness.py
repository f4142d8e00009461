"""The witness file: one JSON line per signed checkpoint, outside the database, fsynced on every append."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

TAIL_BYTES = 64 * 1024


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
