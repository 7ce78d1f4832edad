"""The worklist (R10): what a clinic must book, chase or review today, overdue first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import OPEN_EXAM, Patient, PlannedExam
from ..errors import InputError
from ..protocol.vocabulary import PLAN_EXAMS
from .context import Context

# In the order a nurse works through them (R10): coordinated controls need no booking, and
# those of a patient on hold wait for the MDT's treatment.
CATEGORIES = ("overdue", "results_missing", "to_book", "booked", "coordinated", "on_hold")
LISTS = CATEGORIES + ("mdt_review", "booking_to_cancel", "lost_to_follow_up")


@dataclass(frozen=True, slots=True)
class WorklistItem:
    """One control of one patient: the exams due that day that share a state."""

    category: str
    patient_id: int
    reference: str
    name: str
    codes: tuple[str, ...]
    due: date
    due_working_day: date
    booked_date: date | None
    days_late: int  # today minus the due date; negative while still ahead


@dataclass(frozen=True, slots=True)
class WorklistPage:
    """A page of the worklist and the count of each list."""

    items: tuple[WorklistItem, ...]
    counts: dict[str, int]
    total: int
    page: int
    page_size: int


def _on_hold(today: date):
    """R13: the patient's hold runs and the exam is not booked (the engine's reading of R10)."""
    return sa.and_(Patient.hold_until > today, PlannedExam.state.in_(("open", "missed")))


def _category(today: date, ctx: Context):
    """R10 in the engine's order (protocol/engine.py), as SQL over the stored answer."""
    late = today - timedelta(days=ctx.settings.overdue_after_days)
    coordinated = sa.and_(PlannedExam.coordinated_with_id.is_not(None), PlannedExam.state == "open")
    partner_pending = sa.and_(
        sa.not_(PlannedExam.coordinated_done), PlannedExam.coordinated_date >= today
    )
    return sa.case(
        (_on_hold(today), "on_hold"),
        (PlannedExam.due < late, "overdue"),
        (
            sa.and_(PlannedExam.state == "booked", PlannedExam.booked_date < today),
            "results_missing",
        ),
        (PlannedExam.state == "booked", "booked"),
        (sa.and_(coordinated, partner_pending), "coordinated"),
        (coordinated, "results_missing"),
        else_="to_book",
    )


def _controls(ctx: Context, clinic_ids: list[int], code: str | None, *, details: bool = True):
    """Open, booked or missed exams due within the booking horizon (or held), one row per control."""
    horizon = ctx.today + timedelta(days=ctx.settings.book_ahead_days)
    category = _category(ctx.today, ctx).label("category")
    columns = [category, PlannedExam.patient_id, PlannedExam.due]
    if details:  # the counts need none: the databases would aggregate them all the same
        columns += [
            sa.func.min(PlannedExam.due_working_day).label("due_working_day"),
            sa.func.min(PlannedExam.booked_date).label("booked_date"),
            sa.func.aggregate_strings(PlannedExam.code, " ").label("codes"),
        ]
    query = (
        sa.select(*columns)
        .join(Patient, Patient.id == PlannedExam.patient_id)
        .where(
            PlannedExam.clinic_id.in_(clinic_ids),
            OPEN_EXAM,
            sa.or_(PlannedExam.due <= horizon, _on_hold(ctx.today)),
        )
        .group_by(category, PlannedExam.patient_id, PlannedExam.due)
    )
    if code:
        query = query.where(PlannedExam.code == code)
    return query.subquery("controls")


def worklist(
    session: Session,
    ctx: Context,
    clinic_ids: list[int],
    *,
    category: str | None = None,
    code: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> WorklistPage:
    """The clinics' worklist page: counts of every list and the rows of one (or of all four)."""
    _check_arguments(category, code, page, page_size)
    counted = _controls(ctx, clinic_ids, code, details=False)
    counts = dict.fromkeys(LISTS, 0)
    counts.update(
        session.execute(
            sa.select(counted.c.category, sa.func.count()).group_by(counted.c.category)
        ).all()
    )
    counts["mdt_review"] = (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Patient)
            .where(Patient.clinic_id.in_(clinic_ids), sa.text("mdt_review"))
        )
        or 0
    )
    counts["lost_to_follow_up"] = (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Patient)
            .where(Patient.clinic_id.in_(clinic_ids), Patient.lost_to_follow_up)
        )
        or 0
    )
    counts["booking_to_cancel"] = (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(PlannedExam)
            .where(PlannedExam.clinic_id.in_(clinic_ids), sa.text("booking_to_cancel"))
        )
        or 0
    )
    controls = _controls(ctx, clinic_ids, code)
    rank = sa.case({c: i for i, c in enumerate(CATEGORIES)}, value=controls.c.category)
    query = (
        sa.select(controls, Patient.local_number, Patient.name)
        .join(Patient, Patient.id == controls.c.patient_id)
        .order_by(rank, controls.c.due, Patient.local_number)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    if category:
        query = query.where(controls.c.category == category)
    items = tuple(_item(row, ctx) for row in session.execute(query))
    total = counts[category] if category else sum(counts[c] for c in CATEGORIES)
    return WorklistPage(items, counts, total, page, page_size)


def _check_arguments(category: str | None, code: str | None, page: int, page_size: int) -> None:
    if category is not None and category not in CATEGORIES:
        raise InputError(
            "category", category, "is not one of %(choices)s", choices=", ".join(CATEGORIES)
        )
    if code is not None and code not in PLAN_EXAMS:
        raise InputError(
            "code", code, "is not one of %(choices)s", choices=", ".join(sorted(PLAN_EXAMS))
        )
    for field, value in (("page", page), ("page_size", page_size)):
        if value < 1:
            raise InputError(field, value, "must be at least %(min)d", min=1)


def _item(row, ctx: Context) -> WorklistItem:
    return WorklistItem(
        row.category,
        row.patient_id,
        ctx.reference(row.local_number),
        row.name,
        tuple(sorted(row.codes.split())),
        row.due,
        row.due_working_day,
        row.booked_date,
        (ctx.today - row.due).days,
    )
