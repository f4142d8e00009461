"""The `guard` command."""

from __future__ import annotations

import secrets
import sys
from datetime import datetime
from pathlib import Path

import typer
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from guard.audit.log import record
from guard.cli import audit, demo, hr, report, rules, users, vault
from guard.cli.common import CLI_ACTOR, fail, run_guarded, runtime, settings, unit_of_work
from guard.clock import make_clock
from guard.db import Database, database_problem
from guard.errors import ConfigError
from guard.keys import PURPOSES
from guard.keys import store as key_store
from guard.keys.setup import provision_keys
from guard.migrate import upgrade
from guard.people.models import User
from guard.people.service import create_user
from guard.readiness import OK, check_master_key
from guard.runtime import build_runtime, master_key_override, open_db
from guard.settings import Settings

app = typer.Typer(
    help="Guard: brokers, rations and audits every look at a customer document.", no_args_is_help=True
)
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(vault.app, name="vault")
app.add_typer(rules.app, name="rules")
app.add_typer(hr.app, name="hr")
app.add_typer(report.app, name="report")
app.command("demo")(demo.demo)
app.command("detect")(rules.detect)
keys_app = typer.Typer(help="Manage signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _first_admin_password() -> tuple[str, bool]:
    """From GUARD_ADMIN_PASSWORD, else a prompt on a terminal, else generated (and printed once)."""
    configured = settings().admin_password
    if configured is not None:
        return configured.get_secret_value(), False
    if sys.stdin.isatty():
        return typer.prompt("Password for the first admin", hide_input=True, confirmation_prompt=True), False
    return secrets.token_urlsafe(18), True


@app.command()
def init(
    admin_username: str = typer.Option("admin", help="Username of the first admin"),
    admin_email: str = typer.Option("admin@example.com", help="Email of the first admin"),
) -> None:
    """Migrate the database, create missing keys and the first admin. Safe to run again, and on every
    further host of one Guard: given the first host's master key, it finds the keys and creates nothing."""
    cfg = settings()
    cfg.home.mkdir(parents=True, exist_ok=True)
    db = open_db(cfg)
    try:
        upgrade(db.engine)
        typer.echo(f"database ready at {db.engine.url.render_as_string(hide_password=True)}")
        created = _ensure_keys(cfg, db)
    finally:
        db.dispose()
    for what in created:
        typer.echo(f"created {what}")
    if not created:
        typer.echo("found this Guard's signing keys in the database; this host's master key opens them")
    for folder in (cfg.vault_path, cfg.hr_inbox_path):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    rt = build_runtime(cfg)
    with unit_of_work(rt.db) as session:
        admins = [u for u in session.scalars(select(User)) if "admin" in u.roles]
        if admins:
            return
        password, generated = _first_admin_password()
        create_user(
            session=session,
            actor=CLI_ACTOR,
            username=admin_username,
            display_name="Administrator",
            email=admin_email,
            roles=["admin"],
            password=password,
            passwords=rt.passwords,
            now=rt.clock.now(),
            on_host=True,
        )
    typer.echo(f"created the first admin {admin_username!r}")
    if generated:
        typer.echo(f"its password (shown once): {password}")
        typer.echo(f"change it with POST /me/password or `guard users passwd {admin_username}`")


def _record_key_event(
    action: str, *, session: Session, target: str, payload: dict[str, str], at: datetime
) -> None:
    record(session=session, actor=CLI_ACTOR, action=action, target=target, payload=payload, ts=at)


def _ensure_keys(cfg: Settings, db: Database) -> list[str]:
    now = make_clock(cfg.clock_file).now()
    with unit_of_work(db) as session:
        created = provision_keys(
            session=session, keys_dir=cfg.keys_path, override=master_key_override(cfg), now=now
        )
        for what in created:
            _record_key_event(
                "keys.create", session=session, target="keys", payload={"created": what}, at=now
            )
    return created


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, help="Port to listen on"),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes (use PostgreSQL for more than one)"),
) -> None:
    """Migrate, then serve the API."""
    import uvicorn

    cfg = settings()
    db = open_db(cfg)
    try:
        upgrade(db.engine)
    except DBAPIError as exc:
        raise database_problem(exc) from exc
    finally:
        db.dispose()
    runtime = build_runtime(cfg)  # refuses to start on missing, placeholder or another Guard's keys
    master_key = check_master_key(runtime)
    if master_key != OK:  # the wrong key would fail every document: refuse to start instead
        runtime.close()
        raise ConfigError(f"refusing to start: {master_key}")
    if not runtime.db.is_sqlite and cfg.audit.witness == "file" and cfg.audit.witness_path is None:
        typer.echo(
            f"note: the audit witness is {cfg.witness_path}, on this host only; with several hosts set "
            "GUARD_AUDIT__WITNESS=s3 or put GUARD_AUDIT__WITNESS_PATH on a mount they share",
            err=True,
        )
    if workers > 1 and runtime.db.is_sqlite:
        typer.echo(
            "note: several workers on SQLite serialise every write; PostgreSQL scales better", err=True
        )
    runtime.close()
    uvicorn.run(
        "api.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level=cfg.log_level.lower(),
    )


@keys_app.command("rotate")
def rotate(purpose: str = typer.Argument("jwt", help="jwt or audit")) -> None:
    """Make a new active signing key; older public keys stay usable for verification."""
    if purpose not in PURPOSES:
        fail("purpose must be 'jwt' or 'audit'")
    rt = runtime()
    try:
        now = rt.clock.now()
        with unit_of_work(rt.db) as session:
            kid = key_store.rotate(
                session=session,
                master_key=rt.keyring.master_key,
                purpose=purpose,  # type: ignore[arg-type]
                now=now,
            )
            _record_key_event(
                "keys.rotate", session=session, target=f"keys:{purpose}", payload={"kid": kid}, at=now
            )
    finally:
        rt.close()
    seconds = rt.settings.auth.keys_reload_seconds
    typer.echo(f"new active {purpose} key {kid}; servers on every host sign with it within {seconds:g} s")


@keys_app.command("retire")
def retire(
    kid: str = typer.Argument(..., help="The id of a JWT signing key that is no longer active"),
) -> None:
    """Stop trusting a JWT signing key (a leaked one): every token it signed is refused from the next
    request on, on every host."""
    rt = runtime()
    try:
        now = rt.clock.now()
        with unit_of_work(rt.db) as session:
            key_store.retire(session=session, kid=kid, now=now)
            _record_key_event("keys.retire", session=session, target="keys:jwt", payload={"kid": kid}, at=now)
    finally:
        rt.close()
    typer.echo(f"retired {kid}: tokens it signed are refused from now on, on every host")


@keys_app.command("list")
def list_keys() -> None:
    """Every signing key: its id (what `guard keys retire` takes), purpose, when it was made, and whether it
    signs (active), only verifies, or is retired."""
    rt = runtime()
    try:
        with rt.db.read() as session:
            listed = key_store.list_keys(session=session)
    finally:
        rt.close()
    for key in listed:
        typer.echo(f"{key.kid}  {key.purpose:<5}  {key.created_at:%Y-%m-%d %H:%M}  {key.state}")


@keys_app.command("export-public")
def export_public(
    folder: Path = typer.Argument(..., help="Where to write <kid>.pub for every audit checkpoint key"),
) -> None:
    """Write the audit checkpoint public keys, all a verifier elsewhere needs
    (`guard audit verify --public-keys FOLDER`)."""
    rt = runtime()
    rt.close()
    folder.mkdir(parents=True, exist_ok=True)
    for kid, key in rt.keyring.audit_public.items():
        (folder / f"{kid}.pub").write_bytes(key_store.public_pem(key))
        typer.echo(f"wrote {folder / f'{kid}.pub'}")


def main() -> None:
    run_guarded(app)


if __name__ == "__main__":
    main()
