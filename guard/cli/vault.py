"""`guard vault scrub`."""

from __future__ import annotations

import typer

from guard.cli.common import CLI_ACTOR, EXIT_PROBLEM, runtime, unit_of_work
from guard.vault.scrub import scrub as run_scrub

app = typer.Typer(help="The encrypted document vault.", no_args_is_help=True)


@app.command("scrub")
def scrub() -> None:
    """Decrypt every blob and check it against its recorded SHA-256; exit 1 when any fails."""
    rt = runtime()
    with unit_of_work(rt.db) as session:
        report = run_scrub(session=session, vault=rt.vault, actor=CLI_ACTOR, now=rt.clock.now())
    for problem in report.problems:
        typer.echo(f"DAMAGED {problem.document_id}: {problem.problem}")
    for orphan in report.removed_orphans:
        typer.echo(f"removed {orphan}: a blob left behind by an upload that never committed")
    typer.echo(f"checked {report.checked} document(s): {len(report.problems)} problem(s)")
    if not report.ok:
        raise typer.Exit(EXIT_PROBLEM)
