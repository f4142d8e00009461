"""`guard audit verify|checkpoint|export`.

verify and export need only the database, the witness file and the public keys (no private key), so
anyone holding the public keys can check the log.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from guard.audit.checkpoints import checkpoint_now, load_public_keys
from guard.audit.export import export as export_entries
from guard.audit.search import parse_filters
from guard.audit.verify import VerifyReport, state_path, verify_log
from guard.audit.witness import open_witness
from guard.cli.common import CLI_ACTOR, EXIT_PROBLEM, runtime, settings, unit_of_work
from guard.clock import make_clock
from guard.db import transaction
from guard.keys.material import load_master_key
from guard.keys.store import load_keyring
from guard.runtime import master_key_override, open_db

app = typer.Typer(
    help="The tamper-evident audit log: verify, sign checkpoints, export.", no_args_is_help=True
)


class _Progress:
    """A progress bar on stderr, opened once the number of entries to check is known."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = typer.progressbar(length=max(total, 1), label="verifying", file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self._shown)
        self._shown = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


@app.command("verify")
def verify(
    full: bool = typer.Option(
        False, "--full", help="Check every entry, not only those after the last good run"
    ),
    public_keys: Path | None = typer.Option(
        None,
        "--public-keys",
        help="Folder of <kid>.pub files from `guard keys export-public`, for a verifier without the "
        "master key (default: the keys in the database)",
    ),
) -> None:
    """Check the chain, the checkpoints and the witness file; exit 1 when anything is damaged."""
    cfg = settings()
    db = open_db(cfg)
    master_key = None if public_keys else load_master_key(cfg.keys_path, override=master_key_override(cfg))
    progress = _Progress()
    try:
        with transaction(db.read) as session:
            if master_key is not None:  # the keys in the database, trusted because this master key opens them
                keys = load_keyring(session=session, master_key=master_key).audit_public
            else:
                keys = load_public_keys(public_keys)  # type: ignore[arg-type]
            report = verify_log(
                session=session,
                public_keys=keys,
                log_id=cfg.audit.log_id,
                witness=open_witness(cfg),
                state_path=state_path(cfg),
                full=full,
                progress=progress,
            )
    finally:
        progress.close()
        db.dispose()
    typer.echo(_summary(report))
    if not report.ok:
        raise typer.Exit(EXIT_PROBLEM)


def _summary(report: VerifyReport) -> str:
    scope = "every entry" if report.mode == "full" else f"entries after {report.started_from}"
    if report.ok:
        return (
            f"intact: {report.entries} entries, {report.checkpoints} signed checkpoints checked "
            f"({report.mode}: {scope})"
        )
    return (
        f"DAMAGED: first bad seq {report.first_bad_seq}: {report.problem}\n"
        f"  {report.detail}\n"
        f"  verified intact through {report.verified_through} of {report.entries} entries ({report.mode})"
    )


@app.command("checkpoint")
def checkpoint() -> None:
    """Sign a checkpoint of the current head now, store it and append it to the witness file."""
    rt = runtime()
    try:
        signed = checkpoint_now(
            db=rt.db,
            signing=rt.keyring.audit_signing,
            public_keys=rt.keyring.audit_public,
            log_id=rt.settings.audit.log_id,
            witness=rt.witness,
            now=rt.clock.now(),
        )
    finally:
        rt.close()
    if signed is None:
        typer.echo("the audit log is empty: nothing to sign yet")
        return
    typer.echo(
        f"signed checkpoint at {signed.size} (head {signed.head_hash[:16]}…) with {signed.kid}; "
        f"witness: {rt.witness.description}"
    )


@app.command("export")
def export(
    format: str = typer.Option("jsonl", "--format", help="jsonl or csv"),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (default: standard output)"
    ),
    actor: str | None = typer.Option(None, help="Only entries by this actor"),
    action: str | None = typer.Option(None, help="Only entries with this action (a family: access.*)"),
    target: str | None = typer.Option(None, help="Only entries about this target"),
    since: str | None = typer.Option(None, help="From this time on (ISO 8601 with a timezone)"),
    until: str | None = typer.Option(None, help="Before this time (ISO 8601 with a timezone)"),
    decision: str | None = typer.Option(None, help="Only entries with this decision (granted, denied, ...)"),
    customer: str | None = typer.Option(None, help="Only entries naming this customer id"),
    document: str | None = typer.Option(None, help="Only entries naming this document id"),
) -> None:
    """Stream matching entries in seq order; the export itself is recorded in the log."""
    cfg = settings()
    fields = {"decision": decision, "customer": customer, "document": document}
    filters = parse_filters(
        actor=actor, action=action, target=target, since=since, until=until, fields=fields
    )
    db = open_db(cfg)
    try:
        with unit_of_work(db) as session:
            result = export_entries(
                session=session,
                engine=db.engine,
                actor=CLI_ACTOR,
                filters=filters,
                fmt=format,
                now=make_clock(cfg.clock_file).now(),
            )
        sink = output.open("wb") if output else sys.stdout.buffer
        try:
            for chunk in result.chunks:
                sink.write(chunk)
        finally:
            if output:
                sink.close()
            else:
                sink.flush()
    finally:
        db.dispose()
    if output:
        typer.echo(f"exported entries up to seq {result.through_seq} to {output}", err=True)
