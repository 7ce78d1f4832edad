"""`surveillance report --clinic CODE`: the quality report in a terminal, or as CSV."""

from __future__ import annotations

import click

from ..quality.report import clinic_report, report_csv
from ..services.lookups import clinic_by_code
from .base import Command, load_app, today_option


@click.command("report", cls=Command)
@click.option("--clinic", "clinic_code", required=True, help="The clinic to report on.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the CSV the report page offers.")
@today_option
@click.pass_context
def report(ctx, clinic_code: str, as_csv: bool, today) -> None:
    """Per quarter: controls in their window, delay, overdue, MDT, completed, lost, decisions."""

    app = load_app(ctx, today)
    with app.session() as session:
        clinic = clinic_by_code(session, clinic_code)
        figures = clinic_report(session, clinic.id, app.today, app.config.settings)
    if as_csv:
        click.echo(report_csv(figures), nl=False)
        return
    click.echo(f"{clinic.name} ({clinic.code}), {app.today.isoformat()}")
    click.echo(
        "quarter   controls  in window  share  median delay  overdue  MDT  completed"
        "  lost  decisions  median to decision"
    )
    for q in figures:
        share = "-" if q.share is None else f"{q.share:.0%}"
        delay = "-" if q.median_delay is None else f"{q.median_delay:g} d"
        wait = "-" if q.median_decision_days is None else f"{q.median_decision_days:g} d"
        click.echo(
            f"{q.label:<9} {q.controls:>8} {q.in_window:>10} {share:>6} {delay:>13} "
            f"{q.overdue:>8} {q.mdt_flags:>4} {q.completed:>10} {q.lost:>5} {q.decisions:>10} "
            f"{wait:>19}"
        )
