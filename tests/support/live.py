"""A real `guard serve` in its own processes, for tests that need several workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

GUARD = str(Path(sys.executable).with_name("guard"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(home: Path, db_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "GUARD_HOME": str(home),
        "GUARD_DATABASE_URL": db_url,
        "GUARD_AUTH__ARGON2_TIME_COST": "1",
        "GUARD_AUTH__ARGON2_MEMORY_KIB": "8",
        "GUARD_LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


@contextmanager
def live_server(home: Path, db_url: str, *, workers: int = 1, **env: str) -> Iterator[str]:
    with killable_server(home, db_url, workers=workers, **env) as (base, _kill):
        yield base


@contextmanager
def killable_server(
    home: Path, db_url: str, *, workers: int = 1, **env: str
) -> Iterator[tuple[str, Callable[[], None]]]:
    """`live_server`, plus a function that kills it and its workers at once with SIGKILL (a crash)."""
    port = free_port()
    log = (home / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        [GUARD, "serve", "--port", str(port), "--workers", str(workers)],
        env=server_env(home, db_url, **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: a kill reaches every worker
    )
    base = f"http://127.0.0.1:{port}"

    def kill() -> None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    try:
        _wait_ready(base, process, workers=workers, log_path=Path(log.name))
        yield base, kill
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                kill()
        log.close()


def _wait_ready(base: str, process: subprocess.Popen[bytes], *, workers: int, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    pids: set[int] = set()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"guard serve exited early:\n{log_path.read_text()}")
        try:
            with httpx.Client(base_url=base, timeout=2) as client:
                if client.get("/readyz").status_code == 200:
                    pids.add(client.get("/healthz").json()["worker"])
        except httpx.HTTPError:
            pass
        if len(pids) >= workers:
            return
        time.sleep(0.05)
    raise RuntimeError(f"guard serve did not get {workers} ready workers in time:\n{log_path.read_text()}")


def worker_pids(base: str, *, expected: int = 2, within: float = 30.0) -> set[int]:
    """Which worker processes answer fresh connections (each request on its own connection), asking until
    `expected` have answered or `within` seconds have passed: a busy machine can let one worker take
    every connection for a while, so a fixed number of tries is not enough."""
    pids: set[int] = set()
    deadline = time.monotonic() + within
    while len(pids) < expected and time.monotonic() < deadline:
        pids.add(httpx.get(f"{base}/healthz", timeout=5).json()["worker"])
    return pids


def run_guard(home: Path, db_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the `guard` command as an operator would: its own process, no terminal."""
    return subprocess.run(
        [GUARD, *args],
        env=server_env(home, db_url, **env),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
