"""signing keys in the database: JWT and checkpoint keys sealed under the master key, shared by every host

Revision ID: 0018_signing_keys
Revises: 0017_vault_blobs
"""

import sqlalchemy as sa
from alembic import op

from guard.db import UTCDateTime

revision = "0018_signing_keys"
down_revision = "0017_vault_blobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kid", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(8), nullable=False),
        sa.Column("sealed_private", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_signing_keys"),
        sa.UniqueConstraint("kid", name="uq_signing_keys_kid"),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
