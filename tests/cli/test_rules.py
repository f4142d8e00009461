"""`guard rules check`, `guard rules backtest` and `guard detect --once` as an operator runs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from guard.audit.models import AuditHead
from guard.detection.models import Alert
from guard.runtime import Runtime
from tests.cli.test_init_and_users import guard
from tests.detection.helpers import DEFAULT_RULES, access, add_entries, rules_dir

INVALID = Path(__file__).resolve().parent.parent / "policies" / "rules" / "invalid"


def counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.db.read() as session:
        head = session.scalar(select(AuditHead.seq))
        alerts = session.scalar(select(func.count()).select_from(Alert))
    return int(head or 0), int(alerts or 0)


def test_check_accepts_the_shipped_rules(guard_home: Path, db_url: str) -> None:
    result = guard(guard_home, db_url, "rules", "check")
    assert result.returncode == 0, result.stderr
    assert "leaver-bulk-download" in result.stdout
    assert result.stdout.strip().endswith("policies/rules")


def test_check_names_the_file_and_field_of_every_problem(guard_home: Path, db_url: str) -> None:
    result = guard(guard_home, db_url, "rules", "check", str(INVALID))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        f"{INVALID / 'bad_severity.yaml'}: severity: Input should be 'low', 'medium', 'high' or 'critical'"
        in lines
    )
    assert any(line.startswith(f"{INVALID / 'bad_timezone.yaml'}: options.timezone: ") for line in lines)
    reported = {Path(line.split(":", 1)[0]).name for line in lines}
    assert reported == {p.name for p in INVALID.glob("*.yaml")}


def test_backtest_prints_what_would_be_raised_and_writes_nothing(
    guard_home: Path, db_url: str, runtime: Runtime, tmp_path: Path
) -> None:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    add_entries(runtime, [access("ann", yesterday, honeytoken=True, document="decoy")])
    add_entries(
        runtime, [access("bob", yesterday + timedelta(minutes=i), document=f"d{i}") for i in range(4)]
    )
    before = counts(runtime)

    result = guard(guard_home, db_url, "rules", "backtest", "--since", "30d")
    assert result.returncode == 0, result.stderr
    [line] = [x for x in result.stdout.splitlines() if " honeytoken " in x]
    assert "ann" in line
    assert "decoy document decoy" in line
    assert (
        "5 entries over the last 30d: 1 alerts would be raised (honeytoken 1); nothing was written"
        in result.stdout
    )
    assert counts(runtime) == before

    folder = rules_dir(
        tmp_path,
        extra={
            "four.yaml": "name: four\ntype: frequency\nseverity: low\noptions: {threshold: 4, window: 1h}\n"
        },
    )
    other = guard(guard_home, db_url, "rules", "backtest", "--since", "2d", "--rules", str(folder))
    assert other.returncode == 0, other.stderr
    assert "1 alerts would be raised (four 1)" in other.stdout
    quiet = guard(guard_home, db_url, "rules", "backtest", "--since", "1h")
    assert "0 entries over the last 1h: 0 alerts" in quiet.stdout
    assert guard(guard_home, db_url, "rules", "backtest", "--since", "soon").returncode == 2
    assert guard(guard_home, db_url, "rules", "backtest", "--rules", str(INVALID)).returncode == 1
    assert counts(runtime) == before


def test_detect_once_drains_the_log_and_exits(guard_home: Path, db_url: str, runtime: Runtime) -> None:
    add_entries(runtime, [access("ann", datetime.now(UTC), honeytoken=True)])
    result = guard(guard_home, db_url, "detect", "--once")
    assert result.returncode == 0, result.stderr
    assert "processed 1 entries; raised 1 alerts" in result.stdout
    again = guard(guard_home, db_url, "detect", "--once")
    assert "processed 3 entries; raised 0 alerts" in again.stdout  # its own alert and response entries
    assert counts(runtime)[1] == 1


def test_backtest_on_the_scenario_prints_the_table_and_fails_on_a_missed_style(
    guard_home: Path, db_url: str, tmp_path: Path
) -> None:
    before = {p.name for p in (guard_home).rglob("*")}
    shipped = [p.stem for p in DEFAULT_RULES.glob("*.yaml")]
    without_decoys = rules_dir(tmp_path, *(n for n in shipped if n != "honeytoken"))
    args = ("rules", "backtest", "--scenario", "--people", "60", "--weeks", "14", "--seed", "3")
    result = guard(guard_home, db_url, *args, "--rules", str(without_decoys))
    assert result.returncode == 1, result.stderr
    assert "decoy" in result.stderr.split("missed:", 1)[1]
    decoy = next(line for line in result.stdout.splitlines() if line.startswith("decoy"))
    assert decoy.split()[1:4] == ["0", "/", "3"]
    assert "innocent people alerted at high or critical" in result.stdout
    for style in ("bulk-download", "bulk-view", "before-resigning", "crm-export", "night"):
        line = next(line for line in result.stdout.splitlines() if line.startswith(style))
        assert line.split()[1:4] == ["3", "/", "3"], line
    assert {p.name for p in (guard_home).rglob("*")} == before  # nothing written
