"""What the audit tests share: appending entries, signing checkpoints, verifying, and tampering with the
tables the way an attacker with database access would (raw SQL after dropping the append-only triggers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, text

from guard.audit.chain import entry_hash
from guard.audit.checkpoints import Checkpoint, checkpoint_now
from guard.audit.log import record
from guard.audit.triggers import drop_append_only_ddl
from guard.audit.verify import VerifyReport, state_path, verify_log
from guard.db import transaction
from guard.keys.store import load_keyring
from guard.runtime import Runtime


def append(runtime: Runtime, count: int, *, per_transaction: int = 10, actor: str = "ann") -> None:
    """`count` entries, `per_transaction` to a commit, each a second after the last on the test clock."""
    clock = runtime.clock
    done = 0
    while done < count:
        with transaction(runtime.db.write) as session:
            for _ in range(min(per_transaction, count - done)):
                done += 1
                record(
                    session=session,
                    actor=actor,
                    action="document.view",
                    target=f"document:d{done % 7}",
                    payload={"n": done, "reason": "customer call"},
                    ts=clock.now(),
                )
        clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]


def checkpoint(runtime: Runtime) -> Checkpoint:
    signed = checkpoint_now(
        db=runtime.db,
        signing=runtime.keyring.audit_signing,
        public_keys=runtime.keyring.audit_public,
        log_id=runtime.settings.audit.log_id,
        witness=runtime.witness,
        now=runtime.clock.now(),
    )
    assert signed is not None
    return signed


def verify(runtime: Runtime, *, full: bool = True) -> VerifyReport:
    settings = runtime.settings
    with transaction(runtime.db.read) as session:
        return verify_log(
            session=session,
            public_keys=load_keyring(session=session, master_key=runtime.keyring.master_key).audit_public,
            log_id=settings.audit.log_id,
            witness=runtime.witness,
            state_path=state_path(settings),
            full=full,
        )


def unlock(engine: Engine) -> None:
    """What an attacker does first: drop the append-only triggers."""
    with engine.begin() as connection:
        for table in ("audit_entries", "audit_checkpoints"):
            for statement in drop_append_only_ddl(engine.dialect.name, table):
                connection.exec_driver_sql(statement)


def sql(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), params)


def row(engine: Engine, seq: int) -> dict[str, Any]:
    with engine.connect() as connection:
        found = (
            connection.execute(text("SELECT * FROM audit_entries WHERE seq = :s"), {"s": seq})
            .mappings()
            .one()
        )
    return dict(found)


def renumber(engine: Engine, *, above: int, by: int) -> None:
    """Shift every entry above `above` by `by` (two steps: seq is a primary key checked row by row)."""
    sql(engine, "UPDATE audit_entries SET seq = -seq WHERE seq > :k", k=above)
    sql(engine, "UPDATE audit_entries SET seq = -seq + :by WHERE seq < 0", by=by)


def forged_entry(engine: Engine, *, seq: int, prev_hash: str, actor: str = "mallory") -> dict[str, Any]:
    """A well-formed entry with a correct hash for (seq, prev_hash): what someone who read the code makes."""
    template = row(engine, 1)
    doc = orjson.loads(template["body"])
    doc.update(actor=actor, payload={"reason": "planted"})
    body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    return {
        **template,
        "seq": seq,
        "actor": actor,
        "body": body.decode(),
        "prev_hash": prev_hash,
        "hash": entry_hash(seq, prev_hash, body),
    }


def misreport(engine: Engine, *, seq: int, column: str, value: str) -> None:
    """Make the searchable `column` of entry `seq` say `value` while its hashed body stays as it was.

    PostgreSQL stores the column: update it. SQLite derives it from the body, so the attacker rewrites the
    table definition instead (writable_schema), making the column report `value` for that entry."""
    if engine.dialect.name != "sqlite":
        sql(engine, f"UPDATE audit_entries SET {column} = :v WHERE seq = :s", v=value, s=seq)
        return
    derived = f"json_extract(body, '$.{column}')"
    rewrite_definition(engine, derived, f"CASE WHEN seq = {int(seq)} THEN '{value}' ELSE {derived} END")


def rewrite_definition(engine: Engine, old: str, new: str) -> None:
    """SQLite: replace `old` with `new` in the stored CREATE TABLE of audit_entries, as writable_schema lets
    anyone with the file do, and make every connection read the edited definition."""
    with engine.begin() as connection:
        version = connection.exec_driver_sql("PRAGMA schema_version").scalar()
        connection.exec_driver_sql("PRAGMA writable_schema = ON")
        connection.exec_driver_sql(
            "UPDATE sqlite_schema SET sql = replace(sql, ?, ?) "
            "WHERE type = 'table' AND name = 'audit_entries'",
            (old, new),
        )
        connection.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
        connection.exec_driver_sql("PRAGMA writable_schema = OFF")
    engine.dispose()  # pooled connections would keep the old definition


def stored_columns(engine: Engine, values: dict[str, Any]) -> dict[str, Any]:
    """The columns an INSERT may name: SQLite derives ts, actor, action and target from the body."""
    if engine.dialect.name != "sqlite":
        return values
    return {k: v for k, v in values.items() if k not in ("ts", "actor", "action", "target")}


def insert_row(engine: Engine, values: dict[str, Any]) -> None:
    values = stored_columns(engine, values)
    columns = ", ".join(values)
    placeholders = ", ".join(f":{name}" for name in values)
    sql(engine, f"INSERT INTO audit_entries ({columns}) VALUES ({placeholders})", **values)


def rehash_from(engine: Engine, first: int) -> None:
    """Recompute prev_hash and hash from `first` to the end and move the head: a consistent rewrite."""
    with engine.begin() as connection:
        prev = connection.execute(
            text("SELECT hash FROM audit_entries WHERE seq = :s"), {"s": first - 1}
        ).scalar()
        rows = connection.execute(
            text("SELECT seq, body FROM audit_entries WHERE seq >= :s ORDER BY seq"), {"s": first}
        ).all()
        for seq, body in rows:
            digest = entry_hash(seq, prev, body.encode())
            connection.execute(
                text("UPDATE audit_entries SET prev_hash = :p, hash = :h WHERE seq = :s"),
                {"p": prev, "h": digest, "s": seq},
            )
            prev = digest
        last = rows[-1][0] if rows else first - 1
        connection.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": last, "h": prev}
        )
