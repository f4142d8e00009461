"""hr: events, departures, the leaver watchlist, handovers

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from guard.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.String(32)


def _fk(table: str, column: str, referred: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{referred}.id", name=f"fk_{table}_{column}_{referred}")


def upgrade() -> None:
    op.create_table(
        "hr_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("employee_id", ID, _fk("hr_events", "employee_id", "users"), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("notice_date", sa.Date(), nullable=True),
        sa.Column("last_working_date", sa.Date(), nullable=True),
        sa.Column("successor_id", ID, _fk("hr_events", "successor_id", "users"), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("employee_seq", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("applied", sa.JSON(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hr_events"),
        sa.UniqueConstraint("idempotency_key", name="uq_hr_events_idempotency_key"),
        sa.UniqueConstraint("employee_id", "employee_seq", name="uq_hr_events_employee_id"),
    )
    op.create_table(
        "hr_departures",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, _fk("hr_departures", "user_id", "users"), nullable=False),
        sa.Column("event_id", ID, _fk("hr_departures", "event_id", "hr_events"), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("notice_date", sa.Date(), nullable=True),
        sa.Column("last_working_date", sa.Date(), nullable=True),
        sa.Column("access_ends_at", UTCDateTime(), nullable=False),
        sa.Column("successor_id", ID, _fk("hr_departures", "successor_id", "users"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("departed_at", UTCDateTime(), nullable=True),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hr_departures"),
    )
    op.create_index("ix_hr_departures_user_created", "hr_departures", ["user_id", "created_at"])
    op.create_index("ix_hr_departures_state_access_ends_at", "hr_departures", ["state", "access_ends_at"])
    op.create_table(
        "hr_watchlist",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, _fk("hr_watchlist", "user_id", "users"), nullable=False),
        sa.Column("departure_id", ID, _fk("hr_watchlist", "departure_id", "hr_departures"), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("close_reason", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hr_watchlist"),
    )
    op.create_index("ix_hr_watchlist_user_id", "hr_watchlist", ["user_id"])
    op.create_table(
        "hr_handovers",
        sa.Column("id", ID, nullable=False),
        sa.Column("departure_id", ID, _fk("hr_handovers", "departure_id", "hr_departures"), nullable=False),
        sa.Column("leaver_id", ID, _fk("hr_handovers", "leaver_id", "users"), nullable=False),
        sa.Column("recipient_id", ID, _fk("hr_handovers", "recipient_id", "users"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hr_handovers"),
    )
    op.create_index("ix_hr_handovers_departure_id", "hr_handovers", ["departure_id"])
    op.create_index("ix_hr_handovers_recipient_id", "hr_handovers", ["recipient_id"])
    op.create_table(
        "hr_handover_items",
        sa.Column("id", ID, nullable=False),
        sa.Column("handover_id", ID, _fk("hr_handover_items", "handover_id", "hr_handovers"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref_id", ID, nullable=False),
        sa.Column("label", sa.String(300), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hr_handover_items"),
    )
    op.create_index("ix_hr_handover_items_handover_id", "hr_handover_items", ["handover_id"])


def downgrade() -> None:
    for table in ("hr_handover_items", "hr_handovers", "hr_watchlist", "hr_departures", "hr_events"):
        op.drop_table(table)
