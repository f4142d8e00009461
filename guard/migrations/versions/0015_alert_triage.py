"""alert triage: statuses new / in_review / resolved, an assignee, an append-only note history, episodes

Revision ID: 0015_alert_triage
Revises: 0014_role_changes
"""

import sqlalchemy as sa
from alembic import op

from guard.db import UTCDateTime, new_id

revision = "0015_alert_triage"
down_revision = "0014_role_changes"
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("assignee", sa.String(64), nullable=True))
        batch.add_column(sa.Column("last_event_ts", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("extensions", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_alerts_assignee_status", ["assignee", "status"])
    op.create_table(
        "alert_notes",
        sa.Column("id", ID, nullable=False),
        sa.Column("alert_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_alert_notes_alert_id_alerts"),
        sa.PrimaryKeyConstraint("id", name="pk_alert_notes"),
    )
    op.create_index("uq_alert_notes_alert_id_position", "alert_notes", ["alert_id", "position"], unique=True)

    bind = op.get_bind()
    alerts = sa.table(
        "alerts",
        sa.column("id", ID),
        sa.column("status", sa.String),
        sa.column("note", sa.Text),
        sa.column("event_ts", UTCDateTime()),
        sa.column("last_event_ts", UTCDateTime()),
        sa.column("acknowledged_by", sa.String),
        sa.column("acknowledged_at", UTCDateTime()),
        sa.column("resolved_by", sa.String),
        sa.column("resolved_at", UTCDateTime()),
    )
    notes = sa.table(
        "alert_notes",
        sa.column("id", ID),
        sa.column("alert_id", ID),
        sa.column("position", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("author", sa.String),
        sa.column("at", UTCDateTime()),
        sa.column("text", sa.Text),
    )
    # The one note an alert kept is the last change's: it becomes the first entry of its history.
    rows = bind.execute(
        sa.select(
            alerts.c.id,
            alerts.c.status,
            alerts.c.note,
            alerts.c.acknowledged_by,
            alerts.c.acknowledged_at,
            alerts.c.resolved_by,
            alerts.c.resolved_at,
        ).where(alerts.c.note.is_not(None))
    ).all()
    for alert_id, status, note, ack_by, ack_at, resolved_by, resolved_at in rows:
        resolved = status == "resolved" and resolved_by is not None
        author, at = (resolved_by, resolved_at) if resolved else (ack_by, ack_at)
        if author is None or at is None:
            continue
        bind.execute(
            notes.insert().values(
                id=new_id(),
                alert_id=alert_id,
                position=1,
                kind="resolve" if resolved else "review",
                author=author,
                at=at,
                text=note,
            )
        )
    bind.execute(alerts.update().where(alerts.c.status == "open").values(status="new"))
    bind.execute(alerts.update().where(alerts.c.status == "acknowledged").values(status="in_review"))
    bind.execute(alerts.update().values(last_event_ts=alerts.c.event_ts))


def downgrade() -> None:
    bind = op.get_bind()
    alerts = sa.table("alerts", sa.column("status", sa.String))
    bind.execute(alerts.update().where(alerts.c.status == "new").values(status="open"))
    bind.execute(alerts.update().where(alerts.c.status == "in_review").values(status="acknowledged"))
    op.drop_table("alert_notes")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_assignee_status")
        batch.drop_column("extensions")
        batch.drop_column("last_event_ts")
        batch.drop_column("assignee")
