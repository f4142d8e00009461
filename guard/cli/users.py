"""`guard users add|list|suspend`."""

from __future__ import annotations

import typer

from guard.cli.common import CLI_ACTOR, runtime, unit_of_work
from guard.people import service
from guard.types import Status

app = typer.Typer(help="Manage people.", no_args_is_help=True)


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
    """Create a person."""
    rt = runtime()
    with unit_of_work(rt) as session:
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
        )
        typer.echo(f"created {user.username} ({', '.join(user.roles)}) id={user.id}")


@app.command("list")
def list_(status: str | None = typer.Option(None, help="Only people with this status")) -> None:
    """List people."""
    rt = runtime()
    with unit_of_work(rt) as session:
        for user in service.list_users(session=session, status=status):
            typer.echo(f"{user.username:<24} {user.status:<10} {','.join(user.roles):<30} {user.email}")


@app.command("suspend")
def suspend(username: str) -> None:
    """Suspend a person: every token they hold stops working at once."""
    rt = runtime()
    with unit_of_work(rt) as session:
        user = service.find_user(session=session, ref=username)
        service.update_user(
            session=session,
            actor=CLI_ACTOR,
            user_id=user.id,
            status=Status.SUSPENDED.value,
            now=rt.clock.now(),
        )
        typer.echo(f"suspended {user.username}")
