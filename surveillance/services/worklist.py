"""The worklist (R10): what a clinic must book, chase or review today, overdue first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import (
    CONTROL_HELD,
    CONTROL_TO_BOOK,
    CONTROL_WAITING,
    Control,
    Patient,
    PlannedExam,
)
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


def _list_conditions(category: str, ctx: Context) -> list:
    """R10 in the engine's order, as one indexed range over the stored controls per list.

    The partial indexes' conditions are repeated literally (design.md's traps); a control
    whose patient's hold runs is on hold whatever its due date, and overdue before all else.
    """
    today = ctx.today
    late = today - timedelta(days=ctx.settings.overdue_after_days)
    horizon = today + timedelta(days=ctx.settings.book_ahead_days)
    not_held = sa.or_(Control.hold_until.is_(None), Control.hold_until <= today)
    window = [Control.due >= late, Control.due <= horizon]
    if category == "on_hold":
        return [CONTROL_HELD, Control.hold_until > today]
    if category == "overdue":
        return [Control.due < late, not_held]
    if category == "to_book":
        return [CONTROL_TO_BOOK, *window, not_held]
    waiting = [CONTROL_WAITING, *window]
    if category == "results_missing":
        return [*waiting, Control.results_on <= today, not_held]
    pending = sa.or_(Control.results_on.is_(None), Control.results_on > today)
    if category == "booked":
        return [*waiting, Control.stage == "booked", pending]
    return [*waiting, Control.stage == "coordinated", pending, not_held]


def _list_query(columns, category: str, ctx: Context, clinic_ids: list[int], code: str | None):
    """The controls of one list, of the clinics, holding an exam `code` if given."""
    clinic = (
        Control.clinic_id == clinic_ids[0]
        if len(clinic_ids) == 1
        else Control.clinic_id.in_(clinic_ids)
    )
    query = sa.select(*columns).where(clinic, *_list_conditions(category, ctx))
    if code:
        query = query.where((" " + Control.codes + " ").like(f"% {code} %"))
    return query


def list_count_query(category: str, ctx: Context, clinic_ids: list[int], code: str | None = None):
    """The count of one list's controls."""
    return _list_query([sa.func.count()], category, ctx, clinic_ids, code).select_from(Control)


def list_count(
    session: Session, category: str, ctx: Context, clinic_ids: list[int], code: str | None = None
) -> int:
    """How many controls one list holds."""
    return session.scalar(list_count_query(category, ctx, clinic_ids, code)) or 0


def list_page_query(
    category: str, ctx: Context, clinic_ids: list[int], code: str | None, offset: int, limit: int
):
    """One list's rows from `offset`, overdue first by due date, then by local reference."""
    columns = [
        Control.patient_id,
        Control.due,
        Control.due_working_day,
        Control.booked_date,
        Control.codes,
        Control.local_number,
    ]
    return (
        _list_query(columns, category, ctx, clinic_ids, code)
        .order_by(Control.due, Control.local_number)
        .limit(limit)
        .offset(offset)
    )


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
    counts = dict.fromkeys(LISTS, 0)
    for listed in CATEGORIES:
        counts[listed] = list_count(session, listed, ctx, clinic_ids, code)
    counts["mdt_review"] = _count(
        session,
        sa.select(sa.func.count())
        .select_from(Patient)
        .where(Patient.clinic_id.in_(clinic_ids), sa.text("mdt_review")),
    )
    counts["lost_to_follow_up"] = _count(
        session,
        sa.select(sa.func.count())
        .select_from(Patient)
        .where(Patient.clinic_id.in_(clinic_ids), Patient.lost_to_follow_up),
    )
    counts["booking_to_cancel"] = _count(
        session,
        sa.select(sa.func.count())
        .select_from(PlannedExam)
        .where(PlannedExam.clinic_id.in_(clinic_ids), sa.text("booking_to_cancel")),
    )
    items = _page(session, ctx, clinic_ids, code, counts, category, page, page_size)
    total = counts[category] if category else sum(counts[c] for c in CATEGORIES)
    return WorklistPage(items, counts, total, page, page_size)


def _count(session: Session, query) -> int:
    return session.scalar(query) or 0


def _page(session, ctx, clinic_ids, code, counts, category, page, page_size):
    """The page's rows, list after list in R10's order: each list read from its offset."""
    skip, wanted, found = (page - 1) * page_size, page_size, []
    for listed in (category,) if category else CATEGORIES:
        if wanted == 0:
            break
        if skip >= counts[listed]:
            skip -= counts[listed]
            continue
        controls = list_page_query(listed, ctx, clinic_ids, code, skip, wanted).subquery()
        query = (
            sa.select(controls, Patient.name)
            .join(Patient, Patient.id == controls.c.patient_id)
            .order_by(controls.c.due, controls.c.local_number)
        )
        rows = session.execute(query).all()
        found += [_item(listed, row, ctx, code) for row in rows]
        skip, wanted = 0, wanted - len(rows)
    return tuple(found)


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


def _item(category: str, row, ctx: Context, code: str | None) -> WorklistItem:
    return WorklistItem(
        category,
        row.patient_id,
        ctx.reference(row.local_number),
        row.name,
        (code,) if code else tuple(row.codes.split()),
        row.due,
        row.due_working_day,
        row.booked_date,
        (ctx.today - row.due).days,
    )
