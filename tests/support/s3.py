"""A real S3-compatible server for tests: moto's, started on a free port, with Guard pointed at a bucket."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from tests.support.live import free_port

S3_BUCKET = "guard-documents"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "guard-test", "AWS_SECRET_ACCESS_KEY": "guard-test-secret"}


@pytest.fixture
def s3_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "moto.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(
                    f"moto_server did not start: {(tmp_path / 'moto.log').read_text()}"
                ) from None
            time.sleep(0.1)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture
def bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> object:
    """The bucket, with Guard's settings (for this process and the `guard` commands it runs) pointing at it;
    what keeps its blobs or witnesses there is up to each test."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GUARD_S3__BUCKET", S3_BUCKET)
    monkeypatch.setenv("GUARD_S3__ENDPOINT_URL", s3_server)
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=S3_BUCKET)
    return client
