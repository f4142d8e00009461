"""`guard demo`: a small sales organisation to try Guard with (people, customers, documents)."""

from __future__ import annotations

import secrets

import typer
from sqlalchemy import select

from guard.cli.common import CLI_ACTOR, fail, runtime, unit_of_work
from guard.customers.service import create_customer
from guard.documents.service import Upload, create_document
from guard.people.models import User
from guard.people.service import create_user

# username, display name, department, roles, manager
PEOPLE = [
    ("ella", "Ella Manager", "Sales", ["staff", "approver"], None),
    ("mia", "Mia Rep", "Sales", ["staff"], "ella"),
    ("noah", "Noah Rep", "Sales", ["staff"], "ella"),
    ("carl", "Carl Custodian", "Sales Operations", ["staff", "author", "custodian"], "ella"),
    ("sam", "Sam Security", "Security", ["staff", "security"], None),
    ("hana", "Hana HR", "People", ["staff", "hr"], None),
]
# external id, name, owner
CUSTOMERS = [
    ("CRM-1001", "Northwind Traders", "mia"),
    ("CRM-1002", "Contoso Pharma", "mia"),
    ("CRM-1003", "Fabrikam Steel", "noah"),
]
# customer external id, title, classification, file name, content
DOCUMENTS = [
    (
        "CRM-1001",
        "Northwind contacts",
        "confidential",
        "contacts.csv",
        "name,role,phone\nAnna Berg,Buyer,+46 8 555 0101\nLars Holm,CFO,+46 8 555 0102\n",
    ),
    (
        "CRM-1001",
        "Northwind account history",
        "internal",
        "history.md",
        "# Northwind\n\n- 2024: framework deal, 3 years\n- 2026: renewal due in Q3\n",
    ),
    (
        "CRM-1002",
        "Contoso pricing agreement",
        "restricted",
        "pricing.txt",
        "Contoso: 14% volume discount above 10,000 units; payment 60 days.\n",
    ),
    (
        "CRM-1003",
        "Fabrikam preferences",
        "internal",
        "preferences.md",
        "# Fabrikam\n\nPrefers quarterly reviews on site; decision maker: plant manager.\n",
    ),
]


def demo(
    password: str = typer.Option(
        "", help="Password for every demo person (default: generated and printed once)", show_default=False
    ),
) -> None:
    """Create a small demo organisation: six people, three customers, four documents."""
    rt = runtime()
    password = password or secrets.token_urlsafe(12)
    now = rt.clock.now()
    with unit_of_work(rt.db) as session:
        if session.scalar(select(User.id).where(User.username.in_([p[0] for p in PEOPLE]))) is not None:
            fail("the demo organisation is already there (a demo username is taken)")
        people = {}
        for username, name, department, roles, manager in PEOPLE:
            people[username] = create_user(
                session=session,
                actor=CLI_ACTOR,
                username=username,
                display_name=name,
                email=f"{username}@demo.example.com",
                department=department,
                roles=roles,
                manager=manager,
                password=password,
                passwords=rt.passwords,
                now=now,
                on_host=True,
            )
        customers = {
            external_id: create_customer(
                session=session, actor=CLI_ACTOR, external_id=external_id, name=name, owner=owner, now=now
            )
            for external_id, name, owner in CUSTOMERS
        }
        for external_id, title, classification, filename, content in DOCUMENTS:
            create_document(
                session=session,
                vault=rt.vault,
                author=people["carl"],
                customer_id=customers[external_id].id,
                title=title,
                classification=classification,
                upload=Upload(filename=filename, content_type="", data=content.encode()),
                max_bytes=rt.settings.http.upload_max_bytes,
                now=now,
            )
    typer.echo("demo organisation created: " + ", ".join(f"{p[0]} ({'/'.join(p[3])})" for p in PEOPLE))
    typer.echo(f"every demo person's password: {password}")
    typer.echo(
        "try: log in as mia (POST /auth/login), accept the agreement (GET /agreements/current, "
        "POST /me/agreements), list documents (GET /documents) and ask to view one (POST /access-requests)"
    )
