"""audit entries on SQLite: ts, actor, action and target derived from the hashed body

Revision ID: 0006
Revises: 0005

On SQLite the four searchable columns become virtual generated columns, so they can no longer disagree
with the body the chain hashes. The table is rebuilt; the upgrade refuses to run if any stored copy
already disagrees with its body, so rebuilding cannot erase the evidence of such an edit. PostgreSQL
keeps stored copies (see `guard.audit.models.AuditEntry`); nothing changes there.
"""

from alembic import op

from guard.audit.models import SQLITE_ENTRIES_DDL
from guard.audit.scan import column_mismatch
from guard.audit.triggers import append_only_ddl, drop_append_only_ddl

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_audit_entries_actor_seq": "actor, seq",
    "ix_audit_entries_action_seq": "action, seq",
    "ix_audit_entries_target_seq": "target, seq",
    "ix_audit_entries_ts": "ts",
}
STORED = "seq, body, prev_hash, hash"
ALL = "seq, ts, actor, action, target, body, prev_hash, hash"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    mismatch = column_mismatch(bind, start=0, stop=2**62)
    if mismatch is not None:
        raise RuntimeError(
            f"audit entry {mismatch}'s actor, action, target or ts column disagrees with its hashed body; "
            "run `guard audit verify --full` and keep a copy of the database before upgrading"
        )
    _rebuild(SQLITE_ENTRIES_DDL, columns=STORED)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(
        """CREATE TABLE audit_entries (
    seq BIGINT NOT NULL,
    ts DATETIME NOT NULL,
    actor VARCHAR(200) NOT NULL,
    action VARCHAR(100) NOT NULL,
    target VARCHAR(300) NOT NULL,
    body TEXT NOT NULL,
    prev_hash VARCHAR(64) NOT NULL,
    hash VARCHAR(64) NOT NULL,
    CONSTRAINT pk_audit_entries PRIMARY KEY (seq)
)""",
        columns=ALL,
    )


def _rebuild(ddl: str, *, columns: str) -> None:
    """Copy the entries into a table created from `ddl`, in one transaction, triggers and indexes included."""
    for statement in drop_append_only_ddl("sqlite", "audit_entries"):
        op.execute(statement)
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute("ALTER TABLE audit_entries RENAME TO audit_entries_previous")
    op.execute(ddl)
    copy = f"INSERT INTO audit_entries ({columns}) SELECT {columns} FROM audit_entries_previous"  # noqa: S608
    op.execute(copy)
    op.execute("DROP TABLE audit_entries_previous")
    for name, indexed in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON audit_entries ({indexed})")
    for statement in append_only_ddl("sqlite", "audit_entries"):
        op.execute(statement)
