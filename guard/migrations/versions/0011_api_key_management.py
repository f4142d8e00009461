"""api key management: who made each key, when it expires, when it was last used, who revoked it and why

Revision ID: 0011_api_key_management
Revises: 0010_ended_families

Existing keys keep working; who made them was not recorded, so `created_by` stays empty for them.
"""

import sqlalchemy as sa
from alembic import op

from guard.db import UTCDateTime

revision = "0011_api_key_management"
down_revision = "0010_ended_families"
branch_labels = None
depends_on = None

COLUMNS = (
    ("created_by", sa.String(64)),
    ("expires_at", UTCDateTime()),
    ("last_used_at", UTCDateTime()),
    ("revoked_by", sa.String(64)),
    ("revoke_reason", sa.String(500)),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("api_keys", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
