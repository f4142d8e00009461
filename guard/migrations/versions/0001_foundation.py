"""foundation: people, tokens, API keys, the audit chain

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from guard.audit.chain import GENESIS_HASH
from guard.audit.triggers import append_only_ddl
from guard.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=True),
        sa.Column("department", sa.String(120), nullable=False),
        sa.Column(
            "manager_id", ID, sa.ForeignKey("users.id", name="fk_users_manager_id_users"), nullable=True
        ),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("access_ends_at", UTCDateTime(), nullable=True),
        sa.Column("approval_required_reason", sa.String(500), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.UniqueConstraint("employee_id", name="uq_users_employee_id"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", name="fk_api_keys_user_id_users"), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.create_table(
        "refresh_tokens",
        sa.Column("id", ID, nullable=False),
        sa.Column(
            "user_id", ID, sa.ForeignKey("users.id", name="fk_refresh_tokens_user_id_users"), nullable=False
        ),
        sa.Column("family_id", ID, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_refresh_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
    )
    op.create_index("ix_refresh_tokens_user_id", "refresh_tokens", ["user_id"])
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    op.create_table(
        "revoked_access_tokens",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_revoked_access_tokens"),
    )
    op.create_index("ix_revoked_access_tokens_expires_at", "revoked_access_tokens", ["expires_at"])

    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entries"),
    )
    op.create_index("ix_audit_entries_actor_seq", "audit_entries", ["actor", "seq"])
    op.create_index("ix_audit_entries_action_seq", "audit_entries", ["action", "seq"])
    op.create_index("ix_audit_entries_target_seq", "audit_entries", ["target", "seq"])
    op.create_index("ix_audit_entries_ts", "audit_entries", ["ts"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("log_id", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_checkpoints"),
    )
    op.create_index("ix_audit_checkpoints_size", "audit_checkpoints", ["size"])
    op.create_table(
        "audit_forwarder_positions",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("delivered_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_audit_forwarder_positions"),
    )
    dialect = op.get_bind().dialect.name
    for table in ("audit_entries", "audit_checkpoints"):
        for statement in append_only_ddl(dialect, table):
            op.execute(statement)


def downgrade() -> None:
    for table in (
        "audit_forwarder_positions",
        "audit_checkpoints",
        "audit_head",
        "audit_entries",
        "revoked_access_tokens",
        "refresh_tokens",
        "api_keys",
        "users",
    ):
        op.drop_table(table)
