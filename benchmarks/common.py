"""Shared benchmark helpers: machine description, a real server, and a lean keep-alive HTTP load generator.

The load generator speaks HTTP/1.1 over raw asyncio streams so that the client costs as little CPU as
possible on the same machine as the server; every request and response is still complete and checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

GUARD = str(Path(sys.executable).with_name("guard"))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def guard_server(
    *, workers: int = 1, database_url: str | None = None, **env: str
) -> Iterator[tuple[str, Path]]:
    """`guard init` + `guard serve` in a temporary home; yields (base URL, home)."""
    import httpx

    with tempfile.TemporaryDirectory(prefix="guard-bench-") as tmp:
        home = Path(tmp)
        full_env = {
            **os.environ,
            "GUARD_HOME": str(home),
            "GUARD_ADMIN_PASSWORD": "benchmark-admin-password",
            "GUARD_LOG_LEVEL": "WARNING",
            **env,
        }
        if database_url:
            full_env["GUARD_DATABASE_URL"] = database_url
        subprocess.run([GUARD, "init"], env=full_env, check=True, capture_output=True)
        port = free_port()
        process = subprocess.Popen(
            [GUARD, "serve", "--port", str(port), "--workers", str(workers)],
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            yield base, home
        finally:
            process.terminate()
            process.wait(timeout=30)


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self, label: str) -> str:
        return (
            f"{label:<34} {self.rate:>9.0f} req/s   p50 {self.percentile(50):6.2f} ms   "
            f"p99 {self.percentile(99):6.2f} ms   n={self.requests} "
            f"statuses={dict(sorted(self.statuses.items()))}"
        )


RequestFactory = Callable[[int, int], tuple[str, str, dict[str, str], bytes]]


async def _client(
    host: str, port: int, make: RequestFactory, worker: int, stop_at: float, result: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    n = 0
    try:
        while time.perf_counter() < stop_at:
            method, path, headers, body = make(worker, n)
            n += 1
            head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            started = time.perf_counter()
            writer.write(head.encode() + b"\r\n" + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            result.latencies.append(time.perf_counter() - started)
            status = int(status_line.split()[1])
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.requests += 1
    finally:
        writer.close()


def load(base: str, make: RequestFactory, *, concurrency: int, seconds: float) -> LoadResult:
    """Run `concurrency` keep-alive clients for `seconds`; `make(worker, n)` gives each request."""
    host, port = base.removeprefix("http://").split(":")
    result = LoadResult(0, seconds, [], {})

    async def run() -> None:
        stop_at = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(_client(host, int(port), make, w, stop_at, result) for w in range(concurrency))
        )
        result.seconds = time.perf_counter() - started

    asyncio.run(run())
    return result


def get(path: str, headers: dict[str, str] | None = None) -> RequestFactory:
    return lambda _w, _n: ("GET", path, headers or {}, b"")


def post_json(path: str, body: object, headers: dict[str, str]) -> tuple[str, str, dict[str, str], bytes]:
    return "POST", path, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


def median(values: list[float]) -> float:
    return statistics.median(values)


def postgres_database(base_url: str) -> tuple[str, str]:
    """A fresh, migrated schema on the PostgreSQL server at `base_url`: (schema, URL that uses it)."""
    from sqlalchemy import create_engine, text

    from guard.migrate import upgrade

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    separator = "&" if "?" in base_url else "?"
    url = f"{base_url}{separator}options=-csearch_path%3D{schema}"
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    return schema, url


def drop_postgres_schema(base_url: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()
