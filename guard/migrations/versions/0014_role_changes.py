"""role changes: admin and security roles are granted or taken only with a second person

Revision ID: 0014_role_changes
Revises: 0013_login_throttles
"""

import sqlalchemy as sa
from alembic import op

from guard.db import UTCDateTime

revision = "0014_role_changes"
down_revision = "0013_login_throttles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "role_changes",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("from_roles", sa.JSON(), nullable=False),
        sa.Column("to_roles", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("proposed_by", sa.String(64), nullable=False),
        sa.Column("proposed_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_role_changes_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_role_changes"),
    )
    op.create_index("ix_role_changes_user_id", "role_changes", ["user_id"])
    op.create_index("ix_role_changes_status", "role_changes", ["status"])


def downgrade() -> None:
    op.drop_table("role_changes")
