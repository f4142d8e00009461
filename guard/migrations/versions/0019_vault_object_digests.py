"""vault object digests: the sealed digest of every blob kept in an S3 bucket, append-only

Revision ID: 0019_vault_object_digests
Revises: 0018_signing_keys
"""

import sqlalchemy as sa
from alembic import op

from guard.audit.triggers import append_only_ddl, drop_append_only_ddl
from guard.db import UTCDateTime

revision = "0019_vault_object_digests"
down_revision = "0018_signing_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_object_digests",
        sa.Column("document_id", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("document_id", name="pk_vault_object_digests"),
    )
    for statement in append_only_ddl(op.get_bind().dialect.name, "vault_object_digests"):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_ddl(op.get_bind().dialect.name, "vault_object_digests"):
        op.execute(statement)
    op.drop_table("vault_object_digests")
