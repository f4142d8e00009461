"""`guard report exposure USER`: what a leaver touched, as a table, CSV or JSON."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import orjson
import typer

from guard.cli.common import runtime
from guard.hr.archive import exposure_report
from guard.hr.exposure import exposure_csv

app = typer.Typer(help="Reports for the security team.", no_args_is_help=True)

COLUMNS = ("views", "downloads", "exports", "requests", "denied", "external")


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@app.command("exposure")
def exposure(
    user: str = typer.Argument(..., help="Username of the person"),
    format: Format = typer.Option(Format.TABLE, "--format", help="table, csv or json"),
) -> None:
    """Every customer and document the person touched from the look-back window before notice until
    departure (or now), split before and after notice, with alerts and the handover."""
    rt = runtime()
    with rt.db.read() as session:
        report = exposure_report(session=session, username=user, hr=rt.settings.hr, now=rt.clock.now())
    if format is Format.JSON:
        typer.echo(orjson.dumps(report, default=_iso, option=orjson.OPT_INDENT_2).decode())
    elif format is Format.CSV:
        typer.echo(exposure_csv(report), nl=False)
    else:
        typer.echo(as_table(report))


def _iso(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def as_table(report: dict[str, Any]) -> str:
    window = report["window"]
    lines = [
        f"exposure of {report['user']} ({report['status']})",
        f"notice {report['notice_date'] or '-'}, last working day {report['last_working_date'] or '-'}, "
        f"window {window['from'].isoformat()} .. {window['to'].isoformat()}",
        "",
        f"{'customer':<32} {'views':>6} {'downl.':>6} {'export':>6} {'denied':>6}  "
        f"{'after notice v/d/e':<18} last",
    ]
    for row in report["customers"]:
        after = row["after_notice"]
        lines.append(
            f"{(row['name'] or row['customer_id'])[:32]:<32} {row['views']:>6} {row['downloads']:>6} "
            f"{row['exports']:>6} {row['denied']:>6}  "
            f"{after['views']}/{after['downloads']}/{after['exports']:<14} {_when(row['last'])}"
        )
    lines += ["", f"{'document':<32} {'views':>6} {'downl.':>6} {'export':>6} {'denied':>6}  last"]
    for row in report["documents"]:
        lines.append(
            f"{(row['title'] or row['document_id'])[:32]:<32} {row['views']:>6} {row['downloads']:>6} "
            f"{row['exports']:>6} {row['denied']:>6}  {_when(row['last'])}"
        )
    lines.append("")
    lines.append(f"alerts: {len(report['alerts'])}")
    for alert in report["alerts"]:
        lines.append(f"  [{alert['severity']}] {alert['rule']} ({alert['status']}): {alert['summary']}")
    handover = report["handover"]
    if handover:
        done = f"{handover['acknowledged']}/{handover['items']}"
        by = handover["recipient"] or "nobody"
        lines.append(f"handover {handover['id']}: {handover['status']}, {done} acknowledged by {by}")
    else:
        lines.append("handover: none")
    return "\n".join(lines)
