"""`guard vault scrub` and `guard vault migrate`."""

from __future__ import annotations

import typer

from guard.cli.common import CLI_ACTOR, EXIT_PROBLEM, runtime, unit_of_work
from guard.documents.models import Document
from guard.vault.blobs import STORES
from guard.vault.migrate import migrate as run_migrate
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


@app.command("migrate")
def migrate(
    to: str = typer.Option(..., "--to", help=f"the blob store to move every blob to: {', '.join(STORES)}"),
) -> None:
    """Move every document's sealed blob to another blob store; run it again to resume. Then set
    `vault_store` (GUARD_VAULT_STORE) to the new store on every host."""
    if to not in STORES:
        typer.echo(f"--to must be one of: {', '.join(STORES)}", err=True)
        raise typer.Exit(2)
    rt = runtime()
    with rt.db.read() as session:
        total = session.query(Document).count()
    with typer.progressbar(length=total, label=f"moving blobs to {to}") as bar:
        done = 0

        def advance(now_done: int) -> None:
            nonlocal done
            bar.update(now_done - done)
            done = now_done

        report = run_migrate(
            db=rt.db,
            vault=rt.vault,
            to=to,
            s3=rt.settings.s3,
            actor=CLI_ACTOR,
            now=rt.clock.now(),
            progress=advance,
        )
    for document_id, problem in report.problems:
        typer.echo(f"NOT MOVED {document_id}: {problem}")
    typer.echo(
        f"{report.total} document(s): {report.moved} moved to {to}, {report.already} already there, "
        f"{len(report.problems)} problem(s)"
    )
    if report.problems:
        raise typer.Exit(EXIT_PROBLEM)
