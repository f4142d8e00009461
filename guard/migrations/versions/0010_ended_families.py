"""ended token families: a session ended by logout or refresh-token reuse ends its access tokens too

Revision ID: 0010_ended_families
Revises: 0009_decoy_cover
"""

import sqlalchemy as sa
from alembic import op

from guard.db import UTCDateTime

revision = "0010_ended_families"
down_revision = "0009_decoy_cover"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ended_token_families",
        sa.Column("family_id", sa.String(32), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("family_id", name="pk_ended_token_families"),
    )
    op.create_index("ix_ended_token_families_ended_at", "ended_token_families", ["ended_at"])
    # Sessions already ended keep their access tokens from working.
    op.execute(
        "INSERT INTO ended_token_families (family_id, ended_at) "
        "SELECT family_id, max(revoked_at) FROM refresh_tokens "
        "WHERE revoked_at IS NOT NULL GROUP BY family_id"
    )


def downgrade() -> None:
    op.drop_index("ix_ended_token_families_ended_at", table_name="ended_token_families")
    op.drop_table("ended_token_families")
