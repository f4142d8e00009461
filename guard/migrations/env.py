"""Alembic environment: runs on the connection handed over by guard.migrate, or on the configured URL."""

from alembic import context
from sqlalchemy.engine import Connection

from guard.models import metadata

config = context.config


def run() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is None:
        from guard.db import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.connect() as connection:
            _migrate(connection)
        engine.dispose()
    else:
        _migrate(connection)


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
