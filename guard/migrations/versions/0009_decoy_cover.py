"""decoy cover: the ordinary people a honeytoken names as its author and custodian to readers

Revision ID: 0009_decoy_cover
Revises: 0008_holds

Existing honeytokens get their customer's owner as cover author and custodian, as new ones do when
none is named.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_decoy_cover"
down_revision = "0008_holds"
branch_labels = None
depends_on = None

ID = sa.String(32)


COLUMNS = ("cover_author_id", "cover_custodian_id")


def _fk(column: str) -> str:
    return f"fk_documents_{column}_users"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for column in COLUMNS:
        if sqlite:
            # SQLite cannot add a constraint to a table, but a new column may carry its own reference
            # (copying the table instead would trip the foreign keys that point at documents).
            op.execute(
                f"ALTER TABLE documents ADD COLUMN {column} VARCHAR(32) "
                f"CONSTRAINT {_fk(column)} REFERENCES users (id)"
            )
        else:
            op.add_column("documents", sa.Column(column, ID, nullable=True))
            op.create_foreign_key(_fk(column), "documents", "users", [column], ["id"])
    op.create_index("ix_documents_cover_custodian_id", "documents", ["cover_custodian_id"])
    _cover_existing()


def _cover_existing() -> None:
    documents = sa.table(
        "documents",
        sa.column("customer_id", ID),
        sa.column("honeytoken", sa.Boolean),
        sa.column("cover_author_id", ID),
        sa.column("cover_custodian_id", ID),
    )
    customers = sa.table("customers", sa.column("id", ID), sa.column("owner_id", ID))
    owner = sa.select(customers.c.owner_id).where(customers.c.id == documents.c.customer_id).scalar_subquery()
    op.get_bind().execute(
        documents.update()
        .where(documents.c.honeytoken.is_(True))
        .values(cover_author_id=owner, cover_custodian_id=owner)
    )


def downgrade() -> None:
    op.drop_index("ix_documents_cover_custodian_id", table_name="documents")
    if op.get_bind().dialect.name == "sqlite":  # a column with a reference goes only with a table copy
        with op.batch_alter_table("documents") as batch:
            for column in reversed(COLUMNS):
                batch.drop_column(column)
        return
    for column in reversed(COLUMNS):
        op.drop_constraint(_fk(column), "documents", type_="foreignkey")
        op.drop_column("documents", column)
