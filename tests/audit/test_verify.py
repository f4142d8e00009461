"""Verification finds each kind of damage an attacker with database access can do, with the right seq.

The damage is made with raw SQL after dropping the append-only triggers, as such an attacker would."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from guard.audit import scan
from guard.audit.chain import entry_hash
from guard.runtime import Runtime
from tests.audit.helpers import (
    append,
    checkpoint,
    forged_entry,
    insert_row,
    misreport,
    rehash_from,
    renumber,
    rewrite_definition,
    row,
    sql,
    stored_columns,
    unlock,
    verify,
)

SIZE = 60


@pytest.fixture(params=["one walk", "split walk"], autouse=True)
def walk(request: pytest.FixtureRequest, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite, every case also runs with the chain cut into stretches checked by helper processes."""
    if request.param == "split walk":
        if not runtime.db.is_sqlite:
            pytest.skip("PostgreSQL is walked in one piece")
        monkeypatch.setattr(scan, "PARALLEL_FROM", 2)


@pytest.fixture
def log(runtime: Runtime) -> Engine:
    """A log of 60 entries, verified intact, with the triggers already dropped."""
    append(runtime, SIZE)
    report = verify(runtime)
    assert (report.ok, report.entries, report.verified_through) == (True, SIZE, SIZE)
    unlock(runtime.db.engine)
    return runtime.db.engine


def expect(runtime: Runtime, first_bad_seq: int, problem: str) -> None:
    report = verify(runtime)
    assert (report.ok, report.first_bad_seq, report.problem) == (False, first_bad_seq, problem), report
    assert report.verified_through == first_bad_seq - 1
    assert report.detail


def test_an_intact_log_verifies_in_both_modes(runtime: Runtime) -> None:
    append(runtime, 25)
    checkpoint(runtime)
    append(runtime, 5)
    full = verify(runtime)
    assert (full.ok, full.entries, full.verified_through, full.checkpoints, full.mode) == (
        True,
        30,
        30,
        1,
        "full",
    )
    incremental = verify(runtime, full=False)
    assert (incremental.ok, incremental.mode, incremental.started_from) == (True, "incremental", 25)
    assert verify(runtime).first_bad_seq is None


def test_an_empty_log_verifies(runtime: Runtime) -> None:
    report = verify(runtime)
    assert (report.ok, report.entries, report.verified_through) == (True, 0, 0)


def test_changed_content_is_modified(runtime: Runtime, log: Engine) -> None:
    body = row(log, 20)["body"].replace('"reason":"customer call"', '"reason":"nothing to see"')
    sql(log, "UPDATE audit_entries SET body = :b WHERE seq = 20", b=body)
    expect(runtime, 20, "modified")


def test_changed_searchable_column_is_modified(runtime: Runtime, log: Engine) -> None:
    # The body still says "ann": a search by actor would no longer find this entry.
    misreport(log, seq=33, column="actor", value="bob")
    expect(runtime, 33, "modified")


def test_sqlite_refuses_to_store_a_column_that_disagrees_with_the_body(runtime: Runtime, log: Engine) -> None:
    if log.dialect.name != "sqlite":
        pytest.skip("PostgreSQL stores copies of the columns; verify compares them with the body")
    with pytest.raises(DBAPIError, match="generated column"):
        sql(log, "UPDATE audit_entries SET actor = 'bob' WHERE seq = 33")
    assert verify(runtime).ok


def test_edited_table_definition_is_modified_at_the_first_entry(runtime: Runtime, log: Engine) -> None:
    if log.dialect.name != "sqlite":
        pytest.skip("only SQLite derives the columns from the table definition")
    # A change that misreports no entry yet: the body's column is NOT NULL no more.
    rewrite_definition(log, "    body TEXT NOT NULL,", "    body TEXT,")
    report = verify(runtime)
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 1, "modified")
    assert "definition of the audit_entries table was changed" in (report.detail or "")


def test_changed_hash_is_modified(runtime: Runtime, log: Engine) -> None:
    sql(log, "UPDATE audit_entries SET hash = :h WHERE seq = 17", h="ab" * 32)
    expect(runtime, 17, "modified")


def test_changed_and_rehashed_entry_is_modified_at_its_own_seq(runtime: Runtime, log: Engine) -> None:
    original = row(log, 20)
    body = original["body"].replace('"reason":"customer call"', '"reason":"nothing to see"')
    digest = entry_hash(20, original["prev_hash"], body.encode())
    sql(log, "UPDATE audit_entries SET body = :b, hash = :h WHERE seq = 20", b=body, h=digest)
    expect(runtime, 20, "modified")


def test_deleted_entry_is_deleted(runtime: Runtime, log: Engine) -> None:
    sql(log, "DELETE FROM audit_entries WHERE seq = 20")
    expect(runtime, 20, "deleted")


def test_deleted_entries_with_the_rest_renumbered_are_deleted(runtime: Runtime, log: Engine) -> None:
    sql(log, "DELETE FROM audit_entries WHERE seq IN (20, 21)")
    renumber(log, above=21, by=-2)
    sql(log, "UPDATE audit_head SET seq = :s WHERE id = 1", s=SIZE - 2)
    expect(runtime, 20, "deleted")


def test_inserted_entry_with_a_valid_hash_is_inserted(runtime: Runtime, log: Engine) -> None:
    planted = forged_entry(log, seq=20, prev_hash=row(log, 19)["hash"])
    renumber(log, above=19, by=1)
    insert_row(log, planted)
    expect(runtime, 20, "inserted")


def test_inserted_entry_with_a_made_up_hash_is_inserted(runtime: Runtime, log: Engine) -> None:
    planted = {**forged_entry(log, seq=20, prev_hash=row(log, 19)["hash"]), "hash": "cd" * 32}
    renumber(log, above=19, by=1)
    insert_row(log, planted)
    expect(runtime, 20, "inserted")


def test_swapped_entries_are_reordered(runtime: Runtime, log: Engine) -> None:
    sql(log, "UPDATE audit_entries SET seq = -1 WHERE seq = 20")
    sql(log, "UPDATE audit_entries SET seq = 20 WHERE seq = 21")
    sql(log, "UPDATE audit_entries SET seq = 21 WHERE seq = -1")
    expect(runtime, 20, "reordered")


def test_swapped_contents_under_fixed_hashes_are_reordered(runtime: Runtime, log: Engine) -> None:
    first, second = row(log, 30), row(log, 34)
    for seq, source in ((30, second), (34, first)):
        values = stored_columns(log, {"body": source["body"], "actor": source["actor"],
                                      "target": source["target"], "ts": source["ts"]})  # fmt: skip
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        sql(log, f"UPDATE audit_entries SET {assignments} WHERE seq = :s", s=seq, **values)
    expect(runtime, 30, "reordered")


def test_removed_tail_is_truncated_while_the_head_remembers(runtime: Runtime, log: Engine) -> None:
    sql(log, "DELETE FROM audit_entries WHERE seq > 50")
    expect(runtime, 51, "truncated")


def test_removed_tail_with_the_head_moved_back_is_caught_by_the_witness(
    runtime: Runtime, log: Engine
) -> None:
    checkpoint(runtime)  # at 60, in the table and in the witness file
    head = row(log, 50)["hash"]
    sql(log, "DELETE FROM audit_entries WHERE seq > 50")
    sql(log, "DELETE FROM audit_checkpoints")
    sql(log, "UPDATE audit_head SET seq = 50, hash = :h WHERE id = 1", h=head)
    expect(runtime, 51, "truncated")


def test_consistent_rewrite_is_caught_by_the_witness(runtime: Runtime, log: Engine) -> None:
    checkpoint(runtime)  # at 60
    body = row(log, 45)["body"].replace('"reason":"customer call"', '"reason":"rewritten"')
    sql(log, "UPDATE audit_entries SET body = :b WHERE seq = 45", b=body)
    rehash_from(log, 45)
    sql(log, "DELETE FROM audit_checkpoints")  # hide the stored statement too; the witness file keeps it
    report = verify(runtime)
    # No earlier checkpoint vouches for anything: the change lies somewhere in 1..60.
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "rewritten", 1)
    assert "1 and 60" in (report.detail or "")


def test_consistent_rewrite_between_checkpoints_names_the_range(runtime: Runtime, log: Engine) -> None:
    checkpoint(runtime)  # 60
    append(runtime, 20)
    checkpoint(runtime)  # 80
    body = row(log, 70)["body"].replace('"n":', '"m":')
    sql(log, "UPDATE audit_entries SET body = :b WHERE seq = 70", b=body)
    rehash_from(log, 70)
    report = verify(runtime)
    assert (report.first_bad_seq, report.problem, report.verified_through) == (61, "rewritten", 60)


def test_forged_checkpoint_signature_is_bad_signature(runtime: Runtime, log: Engine) -> None:
    genuine = checkpoint(runtime)
    sql(log, "UPDATE audit_checkpoints SET signature = :s", s=genuine.signature[:-4] + "AAA=")
    report = verify(runtime)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "bad_signature", SIZE)


def test_checkpoint_signed_with_an_unknown_key_is_bad_signature(runtime: Runtime, log: Engine) -> None:
    genuine = checkpoint(runtime)
    sql(log, "UPDATE audit_checkpoints SET kid = 'audit-20200101-00000000'")
    report = verify(runtime)
    assert (report.problem, report.first_bad_seq) == ("bad_signature", genuine.size)
    assert "unknown key" in (report.detail or "")


def test_edited_witness_line_is_bad_signature(runtime: Runtime) -> None:
    append(runtime, 10)
    checkpoint(runtime)
    path = runtime.settings.witness_path
    path.write_text(path.read_text().replace('"size":10', '"size":9'))
    assert verify(runtime).problem == "bad_signature"


def test_first_damage_in_seq_order_is_reported(runtime: Runtime, log: Engine) -> None:
    sql(log, "DELETE FROM audit_entries WHERE seq = 40")
    misreport(log, seq=12, column="actor", value="eve")
    expect(runtime, 12, "modified")


def test_incremental_mode_starts_at_the_last_good_checkpoint(runtime: Runtime, log: Engine) -> None:
    checkpoint(runtime)  # at 60
    assert verify(runtime).ok  # remembers the checkpoint at 60 as good
    append(runtime, 20)
    misreport(log, seq=70, column="actor", value="eve")
    report = verify(runtime, full=False)
    assert (report.mode, report.started_from, report.first_bad_seq, report.problem) == (
        "incremental",
        60,
        70,
        "modified",
    )


def test_incremental_mode_checks_everything_when_its_anchor_was_rewritten(
    runtime: Runtime, log: Engine
) -> None:
    checkpoint(runtime)
    assert verify(runtime).ok
    body = row(log, 5)["body"].replace('"n":', '"m":')
    sql(log, "UPDATE audit_entries SET body = :b WHERE seq = 5", b=body)
    rehash_from(log, 5)
    report = verify(runtime, full=False)
    assert (report.mode, report.problem) == ("full", "rewritten")


def test_a_body_that_is_not_json_is_modified(runtime: Runtime, log: Engine) -> None:
    statement = "UPDATE audit_entries SET body = 'not json at all' WHERE seq = 44"
    if log.dialect.name == "sqlite":
        # The columns derived from the body have nothing to derive: SQLite refuses the edit itself.
        with pytest.raises(DBAPIError, match="JSON"):
            sql(log, statement)
        assert verify(runtime).ok
        return
    sql(log, statement)
    expect(runtime, 44, "modified")


def three_checkpoints(runtime: Runtime) -> list[int]:
    sizes = []
    for _ in range(3):
        append(runtime, 10)
        sizes.append(checkpoint(runtime).size)
    return sizes


def test_a_missing_witness_file_is_damage(runtime: Runtime) -> None:
    first, _, _ = three_checkpoints(runtime)
    assert verify(runtime).ok
    runtime.settings.witness_path.unlink()
    for full in (True, False):  # however far an earlier run got
        report = verify(runtime, full=full)
        assert (report.ok, report.problem, report.first_bad_seq) == (False, "truncated", first)
        assert "witness file" in (report.detail or "")
        assert "missing" in (report.detail or "")


def test_a_shortened_witness_file_is_damage(runtime: Runtime) -> None:
    _, second, _ = three_checkpoints(runtime)
    path = runtime.settings.witness_path
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0])  # the last two lines cut off
    report = verify(runtime)
    assert (report.problem, report.first_bad_seq) == ("truncated", second)
    assert "shortened" in (report.detail or "")


def test_only_the_newest_checkpoint_may_wait_for_its_witness_line(runtime: Runtime) -> None:
    three_checkpoints(runtime)
    path = runtime.settings.witness_path
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))  # a crash between the commit and the append
    assert verify(runtime).ok
