"""team watches: colleagues of a departure wave, judged by the leaver rules for a while

Revision ID: 0007_team_watch
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from guard.db import UTCDateTime

revision = "0007_team_watch"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "team_watches",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("alert_id", ID, sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_team_watches_user_id", "team_watches", ["user_id"])
    op.create_index("ix_team_watches_until", "team_watches", ["until"])


def downgrade() -> None:
    op.drop_table("team_watches")
