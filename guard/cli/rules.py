"""`guard rules check|backtest` and `guard detect`."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from pydantic import TypeAdapter, ValidationError

from guard.cli.common import EXIT_PROBLEM, EXIT_USAGE, fail, runtime, settings
from guard.detection.background import POLL_SECONDS, policy_watcher
from guard.detection.backtest import backtest
from guard.detection.engine import DetectionEngine
from guard.detection.scenario import evaluate, generate
from guard.policies.rules import RuleSet, RulesInvalid, load_rules
from guard.policies.rules.durations import PositiveDuration, describe

app = typer.Typer(
    help="Detection rules: validate a directory, replay the audit log through it.", no_args_is_help=True
)
DURATION = TypeAdapter(PositiveDuration)


def _default_rules_dir() -> Path:
    return settings().policies_path / "rules"


def _load(directory: Path) -> RuleSet:
    try:
        return load_rules(directory)
    except RulesInvalid as exc:
        for problem in exc.problems:
            typer.echo(f"{directory / problem.file}: {problem.field}: {problem.message}")
        typer.echo(f"{len(exc.problems)} problem(s) in {directory}", err=True)
        raise typer.Exit(EXIT_PROBLEM) from None


@app.command("check")
def check(
    directory: Path | None = typer.Argument(None, help="Rules directory (default: the configured one)"),
) -> None:
    """Validate every rule file; each problem names the FILE and the FIELD. Exit 1 if there is any."""
    folder = directory or _default_rules_dir()
    rules = _load(folder)
    for rule in rules.rules:
        state = "" if rule.spec.enabled else " (disabled)"
        typer.echo(f"{rule.name:<34} {rule.spec.type:<16} {rule.spec.severity:<9} {rule.file}{state}")
    typer.echo(f"ok: {len(rules.rules)} rules in {folder}")


@app.command("backtest")
def backtest_command(
    since: str = typer.Option("30d", help="How far back to replay, e.g. 7d, 30d, 12h"),
    rules_dir: Path | None = typer.Option(
        None, "--rules", help="Rules directory to try (default: configured)"
    ),
    scenario: bool = typer.Option(
        False, "--scenario", help="Judge the rules on a generated organisation instead of the audit log"
    ),
    seed: int = typer.Option(7, help="--scenario: the organisation's random seed"),
    people: int = typer.Option(300, min=20, max=5000, help="--scenario: how many people"),
    weeks: int = typer.Option(16, min=6, max=104, help="--scenario: how many weeks of work"),
) -> None:
    """Replay the audit log through a rule set and print the alerts it would raise, or (--scenario) print
    per exfiltration style how many leavers the rules catch and how many innocent people they alert.
    Writes nothing."""
    if scenario:
        _scenario(_load(rules_dir or _default_rules_dir()), seed=seed, people=people, weeks=weeks)
        return
    try:
        span = DURATION.validate_python(since)
    except ValidationError:
        fail(f"--since {since!r} is not a duration; write e.g. 7d, 30d or 12h", EXIT_USAGE)
        return
    rules = _load(rules_dir or _default_rules_dir())
    rt = runtime()
    start = rt.clock.now() - span
    with rt.db.read() as session:
        report = backtest(session=session, rules=rules, since=start)
    for detection in report.detections:
        finding, spec = detection.finding, detection.rule.spec
        evidence = ",".join(str(s) for s in finding.evidence[-10:])
        typer.echo(
            f"{finding.ts:%Y-%m-%d %H:%M}  {spec.severity:<8} {spec.name:<30} {finding.user:<20} "
            f"{finding.summary}  [entries {evidence}]"
        )
    for failure in report.failures:
        typer.echo(f"rule {failure.rule.name} failed at entry {failure.seq}: {failure.error}", err=True)
    per_rule = ", ".join(f"{name} {count}" for name, count in sorted(report.per_rule().items())) or "none"
    typer.echo(
        f"{report.entries} entries over the last {describe(span)}: {len(report.detections)} alerts would be "
        f"raised ({per_rule}); nothing was written"
    )


def _scenario(rules: RuleSet, *, seed: int, people: int, weeks: int) -> None:
    started = time.perf_counter()
    org = generate(people=people, weeks=weeks, seed=seed)
    report = evaluate(org, rules)
    typer.echo(report.table())
    typer.echo(f"seed {seed}; {time.perf_counter() - started:.0f} s; nothing was written")
    missed = [row.style for row in report.styles if row.caught < row.total]
    if missed:
        typer.echo(f"missed: {', '.join(missed)}", err=True)
        raise typer.Exit(EXIT_PROBLEM)


def detect(
    once: bool = typer.Option(False, "--once", help="Process what is committed, then exit"),
    poll: float = typer.Option(POLL_SECONDS, min=0.05, help="Seconds between polls"),
) -> None:
    """Run the detection engine outside `guard serve` (it also runs inside it, in one worker)."""
    rt = runtime()
    rt.rules.current(rt.clock.now())  # an invalid rule set is a usage error, reported before anything runs
    engine = DetectionEngine(db=rt.db, rules=rt.rules, clock=rt.clock)
    if once:
        result = engine.run_once()
        typer.echo(f"processed {result.entries} entries; raised {result.alerts} alerts")
        return
    watcher = policy_watcher(rt)
    if watcher is not None:
        watcher.start()
    typer.echo("detection running; Ctrl-C stops it", err=True)
    try:
        while True:
            result = engine.run_once()
            if result.alerts:
                typer.echo(f"raised {result.alerts} alerts")
            time.sleep(poll)
    except KeyboardInterrupt:
        pass
    finally:
        if watcher is not None:
            watcher.stop()
