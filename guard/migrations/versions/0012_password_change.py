"""password change: an admin's reset makes the person choose a new password before anything else

Revision ID: 0012_password_change
Revises: 0011_api_key_management
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_password_change"
down_revision = "0011_api_key_management"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("must_change_password")
