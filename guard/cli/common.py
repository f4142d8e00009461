"""What every CLI command shares: settings, runtime, one transaction, error to exit-code mapping."""

from __future__ import annotations

import getpass
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy.orm import Session

from guard.audit.log import act_with
from guard.db import Database, transaction
from guard.errors import ConfigError, Conflict, GuardError, InvalidInput, NotFound
from guard.runtime import Runtime, build_runtime
from guard.settings import Settings, load_settings

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
USAGE_ERRORS = (InvalidInput, NotFound, Conflict, ConfigError)
CLI_ACTOR = "cli"


def settings() -> Settings:
    return load_settings()


def runtime() -> Runtime:
    return build_runtime(settings())


def host_credential() -> dict[str, str | None]:
    """The CLI runs on the host with access to Guard's keys: its entries name the host account that ran it."""
    try:
        user: str | None = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (e.g. a bare container)
        user = None
    return {"method": "host", "user": user, "host": socket.gethostname()}


@contextmanager
def unit_of_work(db: Database) -> Iterator[Session]:
    """The CLI's one way to write: a write transaction whose entries name the host account."""
    with transaction(db.write) as session:
        act_with(session, host_credential())
        yield session


def fail(message: str, code: int = EXIT_USAGE) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def exit_code_for(exc: GuardError) -> int:
    return EXIT_USAGE if isinstance(exc, USAGE_ERRORS) else EXIT_PROBLEM


def run_guarded(app: typer.Typer) -> None:
    """Run the CLI; domain errors become a one-line message and the right exit status."""
    try:
        code = app(standalone_mode=False)
        # Without standalone mode click returns typer.Exit's code instead of exiting with it.
        if isinstance(code, int) and code:
            sys.exit(code)
    except GuardError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        sys.exit(exit_code_for(exc))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(EXIT_PROBLEM)
    except Exception as exc:
        import click

        # Bad usage (an unknown command, a missing option, a value that does not parse): click's message
        # and exit 2, never a traceback. Typer 0.2x vendors click, so both kinds are recognised.
        if isinstance(exc, click.ClickException | typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(EXIT_USAGE)
        raise
