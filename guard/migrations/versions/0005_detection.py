"""detection: alerts, the engine's cursor, rules disabled after a failure

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from guard.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", ID, nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("rule_type", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.String(1000), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("observed", sa.Float(), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("trigger_seq", sa.BigInteger(), nullable=False),
        sa.Column("event_ts", UTCDateTime(), nullable=False),
        sa.Column("lookback", sa.Boolean(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("responses", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("verdict", sa.String(20), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_status_created_at", "alerts", ["status", "created_at"])
    op.create_index("ix_alerts_username_created_at", "alerts", ["username", "created_at"])
    op.create_index("ix_alerts_rule_username", "alerts", ["rule", "username"])
    cursor = op.create_table(
        "detection_cursor",
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_detection_cursor"),
    )
    # The row exists from the start, so engines only ever lock and update it.
    op.bulk_insert(cursor, [{"name": "main", "seq": 0, "updated_at": None}])
    op.create_table(
        "detection_disabled_rules",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_detection_disabled_rules"),
    )


def downgrade() -> None:
    for table in ("detection_disabled_rules", "detection_cursor", "alerts"):
        op.drop_table(table)
