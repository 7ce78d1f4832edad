"""`surveillance worklist` and `surveillance patient show`: the clinic's work in a terminal."""

from __future__ import annotations

from datetime import datetime

import click

from ..db.models import Patient, PlannedExam
from ..services import CATEGORIES, Context, find_by_reference
from ..services import worklist as clinic_worklist
from ..services.audit import record_event
from ..services.lookups import clinic_by_code
from ..services.transactions import transaction
from ..services.worklist import LISTS
from .base import Command, Group, load_app, today_option


@click.command("worklist", cls=Command)
@click.option("--clinic", "clinic_code", required=True)
@click.option(
    "--list", "category", type=click.Choice(CATEGORIES), default=None, help="Only this list."
)
@click.option("--exam", type=click.Choice(["ct_tap", "cea", "ct_liver"]), default=None)
@click.option("--page", default=1, type=click.IntRange(1))
@today_option
@click.pass_context
def worklist(
    ctx: click.Context,
    clinic_code: str,
    category: str | None,
    exam: str | None,
    page: int,
    today: datetime | None,
) -> None:
    """Print a clinic's worklist: overdue first."""
    app = load_app(ctx, today)
    with app.session() as session:
        clinic = clinic_by_code(session, clinic_code)
        result = clinic_worklist(
            session,
            app.context(),
            [clinic.id],
            category=category,
            code=exam,
            page=page,
            page_size=app.config.worklist.page_size,
        )
    click.echo(f"{clinic.name} ({clinic.code}), {app.today.isoformat()}")
    click.echo("  ".join(f"{name}: {result.counts[name]}" for name in LISTS))
    for item in result.items:
        late = f"{item.days_late:+d} d"
        click.echo(
            f"{item.category:<16} {item.reference:<8} {item.name:<28} "
            f"{'+'.join(item.codes):<18} {item.due} {item.due_working_day} {late:>7}"
        )
    pages = max(1, -(-result.total // result.page_size))
    click.echo(f"page {result.page} of {pages}, {result.total} controls")


@click.group(cls=Group)
def patient() -> None:
    """One patient."""


@patient.command("show")
@click.argument("reference")
@today_option
@click.pass_context
def patient_show(ctx: click.Context, reference: str, today: datetime | None) -> None:
    """Show a patient's history and plan by local reference (P-0042)."""
    app = load_app(ctx, today)
    app_ctx = app.context()
    with app.session() as session:
        found = find_by_reference(session, app_ctx, reference)
        _print_patient(app_ctx, found)
        with transaction(session):
            record_event(session, app_ctx.actor, "patient.view", found.id)


def _print_patient(ctx: Context, p: Patient) -> None:
    click.echo(
        f"{ctx.reference(p.local_number)}  {p.name}  born {p.birth_date}  "
        f"protocol {p.protocol}  status {p.status}"
        + (f" ({p.status_reason})" if p.status_reason else "")
    )
    if p.mdt_review:
        click.echo(f"needs MDT review: {p.mdt_reason}")
    for t in p.treatments:
        click.echo(f"treatment  {t.date}  {t.kind}" + ("  (deleted)" if t.voided_at else ""))
    for c in p.primary_controls:
        click.echo(f"primary    {c.date}  {c.exams}")
    for e in p.exams:
        click.echo(
            f"exam  {e.due}  {e.due_working_day}  m{e.month:<3} {e.code:<9} {e.state:<9} "
            f"{_exam_detail(e)}"
        )


def _exam_detail(exam: PlannedExam) -> str:
    detail = {
        "booked": f"booked {exam.booked_date}",
        "cancelled": exam.cancel_reason or "",
        "done": f"done {exam.done_date} {_result(exam)}".rstrip(),
        "missed": exam.missed_reason or "",
    }.get(exam.state, "")
    if exam.coordinated_date:
        detail += f" coordinated with {exam.coordinated_date}"
    return detail


def _result(exam: PlannedExam) -> str:
    if exam.result is not None:
        return exam.result
    return "" if exam.result_value is None else f"{exam.result_value:g} µg/L"
