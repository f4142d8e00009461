"""forwarded checkpoints: how far each SIEM forwarder has sent the signed checkpoints

Revision ID: 0020_forwarded_checkpoints
Revises: 0019_vault_object_digests
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_forwarded_checkpoints"
down_revision = "0019_vault_object_digests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_forwarder_positions") as batch:
        batch.add_column(
            sa.Column("delivered_checkpoint", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_forwarder_positions") as batch:
        batch.drop_column("delivered_checkpoint")
