"""vault blobs in the database: sealed document blobs beside their rows, append-only

Revision ID: 0017_vault_blobs
Revises: 0016_lookback_queue
"""

import sqlalchemy as sa
from alembic import op

from guard.audit.triggers import append_only_ddl, drop_append_only_ddl
from guard.db import UTCDateTime

revision = "0017_vault_blobs"
down_revision = "0016_lookback_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_blobs",
        sa.Column("document_id", sa.String(32), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("document_id", name="pk_vault_blobs"),
    )
    for statement in append_only_ddl(op.get_bind().dialect.name, "vault_blobs"):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_ddl(op.get_bind().dialect.name, "vault_blobs"):
        op.execute(statement)
    op.drop_table("vault_blobs")
