"""`guard users add|list|grant|passwd|suspend|hold|lift-hold`, `guard users api-keys create|list|revoke`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import typer

from guard.auth import password_change
from guard.bounds import check_time
from guard.cli.common import CLI_ACTOR, fail, runtime, unit_of_work
from guard.people import api_keys, holds, roles, service
from guard.types import HoldKind

app = typer.Typer(help="Manage people.", no_args_is_help=True)
keys_app = typer.Typer(help="A person's API keys: make, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="api-keys")


@app.command("add")
def add(
    username: str,
    email: str = typer.Option(..., help="Work email address"),
    display_name: str = typer.Option("", "--name", help="Full name (defaults to the username)"),
    department: str = typer.Option("", help="Department"),
    role: list[str] = typer.Option(["staff"], "--role", help="Role; repeat for several"),
    manager: str | None = typer.Option(None, help="Manager's username"),
    employee_id: str | None = typer.Option(None, help="HR employee id"),
    password: str | None = typer.Option(None, help="Password (prompted when omitted on a terminal)"),
) -> None:
    """Create a person. Everyone who logs in needs a password; machine accounts (roles ingest, hr) may
    have none and use API keys."""
    rt = runtime()
    if password is None and not set(role) <= service.MACHINE_ROLES and sys.stdin.isatty():
        password = _new_password(f"Password for {username}")
    with unit_of_work(rt.db) as session:
        user = service.create_user(
            session=session,
            actor=CLI_ACTOR,
            username=username,
            display_name=display_name or username,
            email=email,
            department=department,
            roles=role,
            manager=manager,
            employee_id=employee_id,
            password=password,
            passwords=rt.passwords,
            now=rt.clock.now(),
            on_host=True,
        )
        typer.echo(f"created {user.username} ({', '.join(user.roles)}) id={user.id}")


def _new_password(prompt: str) -> str:
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


@app.command("passwd")
def passwd(
    username: str,
    password: str | None = typer.Option(None, help="The new password (prompted when omitted on a terminal)"),
    change_required: bool = typer.Option(
        False, "--change-required", help="Make the person choose a new password at their next login"
    ),
) -> None:
    """Set a person's password on the host; every session they have ends."""
    rt = runtime()
    if password is None:
        if not sys.stdin.isatty():
            fail("give --password, or run this on a terminal to be asked")
        password = _new_password(f"New password for {username}")
    now = rt.clock.now()
    with rt.db.read() as read:
        details = password_change.about(service.find_user(session=read, ref=username))
    rt.passwords.check_strength(password, about=details)
    new_hash = rt.passwords.hash(password)  # before the write transaction: no lock held while hashing
    with unit_of_work(rt.db) as session:
        user = service.find_user(session=session, ref=username)
        password_change.set_password(
            session=session,
            actor=CLI_ACTOR,
            user=user,
            new_hash=new_hash,
            change_required=change_required,
            now=now,
        )
    then = "; a new one must be chosen at the next login" if change_required else ""
    typer.echo(f"{user.username}: password set, every session ended{then}")


@app.command("grant")
def grant(
    username: str,
    role: list[str] = typer.Argument(..., help="Roles to give (or with --remove, to take)"),
    remove: bool = typer.Option(False, "--remove", help="Take the roles instead of giving them"),
) -> None:
    """Change a person's roles on the host, admin and security included: the way to give the admin role
    where there is no second admin to confirm it. Recorded as done on the host."""
    rt = runtime()
    with unit_of_work(rt.db) as session:
        user = service.find_user(session=session, ref=username)
        after = roles.grant_on_host(
            session=session,
            actor=CLI_ACTOR,
            user=user,
            add=[] if remove else role,
            remove=role if remove else [],
            now=rt.clock.now(),
        )
        typer.echo(f"{user.username}: roles {', '.join(after) or 'none'}")


@app.command("list")
def list_(status: str | None = typer.Option(None, help="Only people with this status")) -> None:
    """List people."""
    rt = runtime()
    with unit_of_work(rt.db) as session:
        for user in service.list_users(session=session, status=status):
            line = f"{user.username:<24} {user.status:<10} {user.lifecycle:<9} {','.join(user.roles):<30}"
            typer.echo(f"{line} {user.email}")


HOLD_KINDS = "suspended (no access at all) or review (every request needs an approver)"


@app.command("suspend")
def suspend(
    username: str, reason: str = typer.Option("suspended from the command line", help="Why, for the record")
) -> None:
    """Suspend a person (a `suspended` hold): every token they hold stops working at once."""
    hold(username, kind=HoldKind.SUSPENDED.value, reason=reason)


@app.command("hold")
def hold(
    username: str,
    kind: str = typer.Option(..., help=HOLD_KINDS),
    reason: str = typer.Option(..., help="Why, for the record"),
) -> None:
    """Put a hold on a person; it stacks on their lifecycle and is lifted with `guard users lift-hold`."""
    rt = runtime()
    with unit_of_work(rt.db) as session:
        user = service.find_user(session=session, ref=username)
        placed = holds.place_hold(
            session=session, user=user, kind=kind, actor=CLI_ACTOR, reason=reason, now=rt.clock.now()
        )
        typer.echo(f"{user.username}: {placed.kind} hold {placed.id}; status {user.status}")


@app.command("lift-hold")
def lift_hold(
    username: str,
    kind: str = typer.Argument(..., help=HOLD_KINDS),
    reason: str = typer.Option(..., help="Why the hold is lifted, for the record"),
) -> None:
    """Lift a person's holds of one kind; their lifecycle (active, notice) is untouched."""
    rt = runtime()
    with unit_of_work(rt.db) as session:
        user = service.find_user(session=session, ref=username)
        lifted = holds.lift_holds(
            session=session, user=user, kind=kind, actor=CLI_ACTOR, reason=reason, now=rt.clock.now()
        )
        typer.echo(f"{user.username}: lifted {len(lifted)} {kind} hold(s); status {user.status}")


@keys_app.command("create")
def create_key(
    username: str,
    name: str = typer.Option(..., help="What uses the key, e.g. 'HR connector'"),
    expires: datetime | None = typer.Option(None, help="When it stops working (UTC), e.g. 2027-06-30"),
) -> None:
    """Make an API key that acts as USERNAME; the secret is printed once. The person and security are told."""
    rt = runtime()
    now = rt.clock.now()
    expires_at = check_time(expires.replace(tzinfo=UTC), "--expires") if expires else None
    with unit_of_work(rt.db) as session:
        user = service.find_user(session=session, ref=username)
        key, plaintext = api_keys.create_api_key(
            session=session, actor=CLI_ACTOR, user_id=user.id, name=name, expires_at=expires_at, now=now
        )
        typer.echo(f"{user.username}: API key {key.id} '{key.name}'; shown once:")
        typer.echo(plaintext)


@keys_app.command("list")
def list_keys(username: str) -> None:
    """A person's API keys, revoked and expired ones included."""
    rt = runtime()
    now = rt.clock.now()
    with unit_of_work(rt.db) as session:
        user = service.find_user(session=session, ref=username)
        for key in api_keys.list_api_keys(session=session, user_id=user.id):
            used = key.last_used_at.isoformat() if key.last_used_at else "never used"
            expires = f"expires {key.expires_at.isoformat()}" if key.expires_at else "no expiry"
            typer.echo(
                f"{key.id}  {key.prefix}…  {api_keys.key_state(key, now):<8} {key.name!r}  "
                f"made {key.created_at.isoformat()} by {key.created_by or 'unknown'}; {used}; {expires}"
            )


@keys_app.command("revoke")
def revoke_key(
    username: str,
    key_id: str,
    reason: str = typer.Option(..., help="Why the key is revoked, for the record"),
) -> None:
    """Revoke one of a person's API keys: it stops working on the next request, in every worker."""
    rt = runtime()
    with unit_of_work(rt.db) as session:
        user = service.find_user(session=session, ref=username)
        key = api_keys.revoke_api_key(
            session=session,
            actor=CLI_ACTOR,
            user_id=user.id,
            key_id=key_id,
            reason=reason,
            now=rt.clock.now(),
        )
        typer.echo(f"{user.username}: API key {key.id} '{key.name}' revoked")
