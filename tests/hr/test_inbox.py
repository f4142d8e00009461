"""The HR drop folder with the real watcher (watchdog on a temporary inbox) and `guard hr import`."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from guard.hr.inbox.watcher import InboxWatcher
from guard.runtime import Runtime
from guard.settings import Settings
from tests.hr.helpers import audit, counts, status_of
from tests.support.cli import guard_cli
from tests.support.people import People
from tests.support.settings import guard_settings

HEADER = "EmailAddress,ResignationDate,LastWorkingDate,EventType,Successor,EmployeeId\n"
ANN = "ann@example.com,2026-03-02,2026-03-20,,bob,\n"
CAT = "cat@example.com,2026-03-02,2026-03-27,Resignation,,\n"


@pytest.fixture
def settings(guard_home: Path, db_url: str) -> Settings:
    return guard_settings(guard_home, db_url, hr={"inbox_poll_seconds": 0.05, "inbox_settle_seconds": 0.1})


@pytest.fixture
def staff(people: People) -> People:
    for name in ("ann", "bob", "cat"):
        people.add(name, login=False)
    return people


@pytest.fixture
def watcher(runtime: Runtime, staff: People) -> Iterator[InboxWatcher]:
    inbox = InboxWatcher(runtime)
    inbox.start()
    yield inbox
    inbox.stop()


def wait_for(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def wait_for_scans(watcher: InboxWatcher, count: int) -> None:
    """Bounded wait until the watcher has looked at the inbox `count` more times."""
    target = watcher.scans + count
    wait_for(lambda: watcher.scans >= target, f"{count} scans")


def drop(inbox: Path, name: str, content: str) -> Path:
    """Write elsewhere, then rename into the inbox: how well-behaved connectors deliver."""
    staging = inbox.parent / f"staging-{name}"
    staging.write_text(content)
    target = inbox / name
    os.replace(staging, target)
    return target


def outcomes(inbox: Path, folder: str, suffix: str) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((inbox / folder).glob(f"*{suffix}"))]


def test_a_csv_with_one_bad_row_is_rejected_whole_and_changes_nothing(
    watcher: InboxWatcher, runtime: Runtime, staff: People
) -> None:
    before = counts(runtime)
    content = HEADER + ANN + "ghost@example.com,2026-03-02,2026-03-20,,,\n" + CAT
    drop(watcher.inbox, "resignations.csv", content)
    wait_for(lambda: list((watcher.inbox / "rejected").glob("*.errors.json")), "the rejection")
    [result] = outcomes(watcher.inbox, "rejected", ".errors.json")
    assert result["outcome"] == "rejected"
    assert result["rows"] == []
    [error] = result["errors"]  # type: ignore[misc]
    assert (error["row"], error["line"]) == (2, 3)
    assert "unknown employee 'ghost@example.com'" in error["error"]
    assert [p.name.endswith("-resignations.csv") for p in (watcher.inbox / "rejected").glob("*.csv")] == [
        True
    ]
    assert not (watcher.inbox / "resignations.csv").exists()
    # Nothing applied: not even the good rows before and after the bad one.
    after = counts(runtime)
    assert (after["events"], after["departures"]) == (before["events"], before["departures"])
    assert [status_of(staff.client, staff, n) for n in ("ann", "cat")] == ["active", "active"]
    [rejected] = audit(runtime, "hr.import_rejected")
    assert rejected["payload"]["errors"][0]["row"] == 2


def test_every_bad_row_is_reported_with_its_row_number_and_reason(
    watcher: InboxWatcher, runtime: Runtime
) -> None:
    content = (
        HEADER
        + "ann@example.com,2026-03-10,2026-03-02,,,\n"  # last day before notice
        + "bob@example.com,2026-03-02,next friday,,,\n"  # not a date
        + "cat@example.com,2026-03-02,2026-03-20,Retirement,,\n"  # unknown type
        + "cat@example.com,2026-03-02,2026-03-20,,cat,\n"  # successor is the leaver
    )
    drop(watcher.inbox, "batch.csv", content)
    wait_for(lambda: list((watcher.inbox / "rejected").glob("*.errors.json")), "the rejection")
    [result] = outcomes(watcher.inbox, "rejected", ".errors.json")
    reasons = {e["row"]: e["error"] for e in result["errors"]}  # type: ignore[attr-defined]
    assert sorted(reasons) == [1, 2, 3, 4]
    assert "before notice_date" in reasons[1]
    assert "not a date" in reasons[2]
    assert "EventType 'Retirement'" in reasons[3]
    assert "successor cannot be the person" in reasons[4]
    assert counts(runtime)["events"] == 0


def test_a_good_file_dropped_twice_is_applied_once(
    watcher: InboxWatcher, runtime: Runtime, staff: People
) -> None:
    drop(watcher.inbox, "hr-export.csv", HEADER + ANN + CAT)
    wait_for(lambda: len(list((watcher.inbox / "processed").glob("*.result.json"))) == 1, "the first file")
    assert [status_of(staff.client, staff, n) for n in ("ann", "cat")] == ["notice", "notice"]
    drop(watcher.inbox, "hr-export.csv", HEADER + ANN + CAT)
    wait_for(lambda: len(list((watcher.inbox / "processed").glob("*.result.json"))) == 2, "the second file")
    first, second = outcomes(watcher.inbox, "processed", ".result.json")
    assert [r["duplicate"] for r in first["rows"]] == [False, False]  # type: ignore[index]
    assert [r["duplicate"] for r in second["rows"]] == [True, True]  # type: ignore[index]
    assert [r["event_id"] for r in first["rows"]] == [r["event_id"] for r in second["rows"]]  # type: ignore[index]
    assert counts(runtime)["events"] == 2
    assert [e["target"] for e in audit(runtime, "hr.resignation")] == ["user:ann", "user:cat"]
    assert [e["actor"] for e in audit(runtime, "hr.import")] == ["hr-inbox", "hr-inbox"]


def test_a_half_written_file_is_not_read_until_it_is_closed(
    watcher: InboxWatcher, runtime: Runtime, staff: People
) -> None:
    path = watcher.inbox / "slow-connector.csv"
    with path.open("w") as handle:
        handle.write(HEADER + ANN)  # a complete first row: reading now would apply just Ann
        handle.flush()
        os.fsync(handle.fileno())
        wait_for_scans(watcher, 10)  # well past the settle time, size unchanged
        assert path.exists()
        assert counts(runtime)["events"] == 0
        handle.write(CAT)
    wait_for(lambda: not path.exists(), "the file to be processed")
    [result] = outcomes(watcher.inbox, "processed", ".result.json")
    assert [r["employee"] for r in result["rows"]] == ["ann", "cat"]  # type: ignore[index]
    assert counts(runtime)["events"] == 2


def test_temporary_names_are_ignored_until_renamed(watcher: InboxWatcher, runtime: Runtime) -> None:
    for name in ("batch.csv.part", "batch.csv.tmp", ".batch.csv", "~batch.csv"):
        (watcher.inbox / name).write_text(HEADER + ANN)
    wait_for_scans(watcher, 10)
    assert counts(runtime)["events"] == 0
    assert len(list(watcher.inbox.glob("*batch.csv*"))) == 4
    os.replace(watcher.inbox / "batch.csv.part", watcher.inbox / "batch.csv")
    wait_for(lambda: list((watcher.inbox / "processed").glob("*.result.json")), "the renamed file")
    assert counts(runtime)["events"] == 1


def test_files_that_arrived_while_guard_was_down_are_processed_at_start_up(
    runtime: Runtime, staff: People
) -> None:
    inbox = runtime.settings.hr_inbox_path
    inbox.mkdir(parents=True)
    (inbox / "monday.csv").write_text(HEADER + ANN)
    lines = [
        {"employee": "cat", "type": "resignation", "last_working_date": "2026-03-27"},
        {"employee": "cat", "type": "withdrawal"},
    ]
    (inbox / "tuesday.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    watcher = InboxWatcher(runtime)
    watcher.start()
    try:
        wait_for(lambda: len(list((inbox / "processed").glob("*.result.json"))) == 2, "both files")
    finally:
        watcher.stop()
    assert [status_of(staff.client, staff, n) for n in ("ann", "cat")] == ["notice", "active"]
    assert [
        e["action"] for e in audit(runtime) if e["action"].startswith("hr.") and "import" not in e["action"]
    ] == [
        "hr.resignation",
        "hr.resignation",
        "hr.withdrawal",
    ]


def test_guard_hr_import_applies_once_and_exits_1_with_the_row_errors(
    tmp_path: Path, runtime: Runtime, staff: People
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "ann@example.com,2030-01-02,2030-01-31,,,\nbob@example.com,2030-01-02,,,,\n")
    rejected = guard_cli(runtime, "hr", "import", str(bad))
    assert rejected.exit_code == 1, rejected.stderr
    assert "row 2 (line 3): a resignation needs last_working_date" in rejected.stderr
    assert counts(runtime)["events"] == 0

    good = tmp_path / "good.csv"
    good.write_text(HEADER + "ann@example.com,2030-01-02,2030-01-31,,bob,\n")
    applied = guard_cli(runtime, "hr", "import", str(good))
    assert applied.exit_code == 0, applied.stderr
    assert "row 1: resignation ann -> notice" in applied.stdout
    again = guard_cli(runtime, "hr", "import", str(good))
    assert again.exit_code == 0
    assert "already applied" in again.stdout
    assert counts(runtime)["events"] == 1


def test_a_zero_byte_file_is_rejected_instead_of_waiting_forever(watcher: InboxWatcher) -> None:
    (watcher.inbox / "empty.csv").touch()
    wait_for(lambda: list((watcher.inbox / "rejected").glob("*.errors.json")), "the rejection")
    [result] = outcomes(watcher.inbox, "rejected", ".errors.json")
    [error] = result["errors"]  # type: ignore[misc]
    assert "no events" in error["error"]
    assert not (watcher.inbox / "empty.csv").exists()


def test_a_control_character_in_a_row_is_a_row_error_on_every_engine(
    watcher: InboxWatcher, runtime: Runtime, staff: People
) -> None:
    before = counts(runtime)
    drop(watcher.inbox, "nul.csv", HEADER + "ann\x00@example.com,2026-03-02,2026-03-20,,,\n")
    wait_for(lambda: list((watcher.inbox / "rejected").glob("*.errors.json")), "the rejection")
    [result] = outcomes(watcher.inbox, "rejected", ".errors.json")
    [error] = result["errors"]  # type: ignore[misc]
    assert "control characters" in error["error"]
    assert counts(runtime)["events"] == before["events"]
