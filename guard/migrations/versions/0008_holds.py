"""holds: a person's lifecycle and the restrictions on top of it are separate facts

Revision ID: 0008_holds
Revises: 0007_team_watch

Existing rows are carried over: the lifecycle is the old status, except that a suspended person with a
scheduled departure is on notice underneath; every old suspension and every old approval requirement
becomes an active hold.
"""

import sqlalchemy as sa
from alembic import op

from guard.db import UTCDateTime, new_id

revision = "0008_holds"
down_revision = "0007_team_watch"
branch_labels = None
depends_on = None

ID = sa.String(32)
MIGRATED_BY = "guard"


def upgrade() -> None:
    op.add_column("users", sa.Column("lifecycle", sa.String(16), nullable=False, server_default="active"))
    op.create_table(
        "user_holds",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.Column("alert_id", ID, nullable=True),
        sa.Column("lifted_by", sa.String(64), nullable=True),
        sa.Column("lifted_at", UTCDateTime(), nullable=True),
        sa.Column("lift_reason", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_holds_user_id", "user_holds", ["user_id"])
    op.create_index("ix_user_holds_alert_id", "user_holds", ["alert_id"])
    _carry_rows()


def _carry_rows() -> None:
    bind = op.get_bind()
    users = sa.table(
        "users",
        sa.column("id", ID),
        sa.column("status", sa.String),
        sa.column("lifecycle", sa.String),
        sa.column("approval_required_reason", sa.String),
        sa.column("updated_at", UTCDateTime()),
    )
    departures = sa.table("hr_departures", sa.column("user_id", ID), sa.column("state", sa.String))
    holds = sa.table(
        "user_holds",
        sa.column("id", ID),
        sa.column("user_id", ID),
        sa.column("kind", sa.String),
        sa.column("reason", sa.String),
        sa.column("set_by", sa.String),
        sa.column("set_at", UTCDateTime()),
    )
    scheduled = {
        row[0]
        for row in bind.execute(sa.select(departures.c.user_id).where(departures.c.state == "scheduled"))
    }
    rows = bind.execute(
        sa.select(users.c.id, users.c.status, users.c.approval_required_reason, users.c.updated_at)
    ).all()
    for user_id, status, review_reason, updated_at in rows:
        lifecycle = status
        if status == "suspended":
            lifecycle = "notice" if user_id in scheduled else "active"
            bind.execute(
                holds.insert().values(
                    id=new_id(),
                    user_id=user_id,
                    kind="suspended",
                    reason="suspended before holds were recorded separately",
                    set_by=MIGRATED_BY,
                    set_at=updated_at,
                )
            )
        if review_reason:
            bind.execute(
                holds.insert().values(
                    id=new_id(),
                    user_id=user_id,
                    kind="review",
                    reason=review_reason[:500],
                    set_by=MIGRATED_BY,
                    set_at=updated_at,
                )
            )
        bind.execute(users.update().where(users.c.id == user_id).values(lifecycle=lifecycle))


def downgrade() -> None:
    op.drop_table("user_holds")
    op.drop_column("users", "lifecycle")
