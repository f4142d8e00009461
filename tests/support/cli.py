"""The real `guard` command, run in this process against a test's runtime."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from guard.cli.main import app
from guard.runtime import Runtime
from tests.support.live import server_env


def guard_cli(runtime: Runtime, *args: str) -> Result:
    """`guard ARGS` with the runtime's home and database (its own settings, runtime and transactions)."""
    env = {
        k: v
        for k, v in server_env(runtime.settings.home, runtime.settings.sqlalchemy_url).items()
        if k.startswith("GUARD_")
    }
    return CliRunner().invoke(app, list(args), env=env)
