"""login throttles: failed logins counted per account and per client address, shared by every worker

Revision ID: 0013_login_throttles
Revises: 0012_password_change
"""

import sqlalchemy as sa
from alembic import op

from guard.db import UTCDateTime

revision = "0013_login_throttles"
down_revision = "0012_password_change"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UTCDateTime(), nullable=False),
        sa.Column("next_try_at", UTCDateTime(), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_login_throttles"),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
