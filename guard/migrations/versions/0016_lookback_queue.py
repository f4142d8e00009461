"""look-back queue: a resignation asks for a look-back and the detection engine runs it afterwards

Revision ID: 0016_lookback_queue
Revises: 0015_alert_triage
"""

import sqlalchemy as sa
from alembic import op

from guard.db import UTCDateTime

revision = "0016_lookback_queue"
down_revision = "0015_alert_triage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detection_lookbacks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("as_leaver", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("alerts", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_detection_lookbacks"),
    )
    op.create_index(
        "ix_detection_lookbacks_done_at_requested_at", "detection_lookbacks", ["done_at", "requested_at"]
    )


def downgrade() -> None:
    op.drop_table("detection_lookbacks")
