"""`guard hr import FILE` and `guard hr sweep`."""

from __future__ import annotations

from pathlib import Path

import typer

from guard.cli.common import CLI_ACTOR, EXIT_PROBLEM, fail, runtime
from guard.hr.departure import sweep as sweep_departures
from guard.hr.inbox.importer import import_bytes

app = typer.Typer(help="HR lifecycle: import HR files, apply due departures.", no_args_is_help=True)


@app.command("import")
def import_file(
    path: Path = typer.Argument(..., help="A CSV or JSON-lines file as dropped into the inbox"),
) -> None:
    """Validate the whole file, then apply it in one transaction (or nothing, with the row errors)."""
    if not path.is_file():
        fail(f"{path} is not a file")
    rt = runtime()
    outcome = import_bytes(
        write=rt.db.write,
        name=path.name,
        data=path.read_bytes(),
        actor=CLI_ACTOR,
        source=f"cli:{path.name}",
        hr=rt.settings.hr,
        policy=rt.policies.current,
        now=rt.clock.now(),
    )
    if not outcome.accepted:
        typer.echo(f"rejected {path.name}: nothing was applied", err=True)
        for error in outcome.errors:
            typer.echo(f"  row {error.row} (line {error.line}): {error.error}", err=True)
        raise typer.Exit(EXIT_PROBLEM)
    for row, result in outcome.results:
        done = "already applied" if result.duplicate else "; ".join(result.applied)
        typer.echo(f"row {row.number}: {result.type} {result.employee} -> {result.status}: {done}")
    if outcome.ignored_columns:
        typer.echo(f"ignored columns: {', '.join(outcome.ignored_columns)}")
    typer.echo(f"applied {path.name} ({len(outcome.results)} rows)")


@app.command("sweep")
def sweep() -> None:
    """Apply every departure whose last working day has ended (the server does this on its own too)."""
    rt = runtime()
    result = sweep_departures(
        read=rt.db.read, write=rt.db.write, hr=rt.settings.hr, now=rt.clock.now(), actor=CLI_ACTOR
    )
    for username in result.departed:
        typer.echo(f"departed {username}")
    typer.echo(f"{len(result.departed)} departures applied, {len(result.failed)} failed")
    if result.failed:
        raise typer.Exit(EXIT_PROBLEM)
