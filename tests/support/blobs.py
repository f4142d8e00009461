"""Reach behind Guard's back into whichever blob store a test's runtime uses: read a sealed blob as stored
and replace it, as someone with access to the disk or the database could."""

from __future__ import annotations

from sqlalchemy import text

from guard.audit.triggers import append_only_ddl, drop_append_only_ddl
from guard.runtime import Runtime


def stored_blob(runtime: Runtime, document_id: str) -> bytes:
    return runtime.vault.read_blob(document_id)


def replace_blob(runtime: Runtime, document_id: str, sealed: bytes) -> None:
    """Overwrite a stored blob. In the database that means getting past the append-only triggers first,
    which only the database's owner can do."""
    if runtime.vault.blobs.name == "filesystem":
        runtime.vault.blob_path(document_id).write_bytes(sealed)
        return
    dialect = runtime.db.engine.dialect.name
    with runtime.db.engine.begin() as connection:
        for statement in drop_append_only_ddl(dialect, "vault_blobs"):
            connection.execute(text(statement))
        connection.execute(
            text("UPDATE vault_blobs SET blob = :blob WHERE document_id = :id"),
            {"blob": sealed, "id": document_id},
        )
        for statement in append_only_ddl(dialect, "vault_blobs"):
            connection.execute(text(statement))
