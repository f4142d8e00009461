"""broker: customers, documents, agreements, access requests, approvals, quota counters

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from guard.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(32)


def _fk(table: str, column: str, referred: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{referred}.id", name=f"fk_{table}_{column}_{referred}")


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", ID, nullable=False),
        sa.Column("external_id", sa.String(120), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner_id", ID, _fk("customers", "owner_id", "users"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("external_id", name="uq_customers_external_id"),
    )
    op.create_index("ix_customers_owner_id", "customers", ["owner_id"])

    op.create_table(
        "documents",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, _fk("documents", "customer_id", "customers"), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("classification", sa.String(16), nullable=False),
        sa.Column("author_id", ID, _fk("documents", "author_id", "users"), nullable=False),
        sa.Column("custodian_id", ID, _fk("documents", "custodian_id", "users"), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(120), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("honeytoken", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
    )
    for column in ("customer_id", "author_id", "custodian_id"):
        op.create_index(f"ix_documents_{column}", "documents", [column])

    op.create_table(
        "agreement_acceptances",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, _fk("agreement_acceptances", "user_id", "users"), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_agreement_acceptances"),
        sa.UniqueConstraint("user_id", "version", name="uq_agreement_acceptances_user_id"),
    )

    op.create_table(
        "access_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("requester_id", ID, _fk("access_requests", "requester_id", "users"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("document_id", ID, _fk("access_requests", "document_id", "documents"), nullable=True),
        sa.Column("document_ids", sa.JSON(), nullable=True),
        sa.Column("customer_ids", sa.JSON(), nullable=True),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("classification", sa.String(16), nullable=False),
        sa.Column("honeytoken", sa.Boolean(), nullable=False),
        sa.Column("in_portfolio", sa.Boolean(), nullable=False),
        sa.Column("person_status", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("explanation", sa.String(500), nullable=False),
        sa.Column("views_left", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("place", sa.String(200), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("pending_until", UTCDateTime(), nullable=True),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("approvals", sa.Integer(), nullable=False),
        sa.Column("grant_until", UTCDateTime(), nullable=True),
        sa.Column("token_jti", sa.String(32), nullable=True),
        sa.Column("token_expires_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_bytes", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_access_requests"),
    )
    op.create_index("ix_access_requests_document_id", "access_requests", ["document_id"])
    op.create_index("ix_access_requests_requester_created", "access_requests", ["requester_id", "created_at"])
    op.create_index("ix_access_requests_status_pending_until", "access_requests", ["status", "pending_until"])

    op.create_table(
        "access_approvals",
        sa.Column("id", ID, nullable=False),
        sa.Column("request_id", ID, _fk("access_approvals", "request_id", "access_requests"), nullable=False),
        sa.Column("approver_id", ID, _fk("access_approvals", "approver_id", "users"), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("note", sa.String(1000), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_approvals"),
        sa.UniqueConstraint("request_id", "approver_id", name="uq_access_approvals_request_id"),
    )

    op.create_table(
        "access_counters",
        sa.Column("user_id", ID, _fk("access_counters", "user_id", "users"), nullable=False),
        sa.Column("document_id", ID, _fk("access_counters", "document_id", "documents"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("period", sa.String(40), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "document_id", "action", "period", name="pk_access_counters"),
    )


def downgrade() -> None:
    for table in (
        "access_counters",
        "access_approvals",
        "access_requests",
        "agreement_acceptances",
        "documents",
        "customers",
    ):
        op.drop_table(table)
