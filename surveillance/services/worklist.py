"""The worklist (R10): what a clinic must book, chase or review today, overdue first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

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


# The statements are built once, with the day, the clinics and the page as parameters:
# building them anew cost more than the database's work on a small clinic (measured).
TODAY, LATE, HORIZON = (sa.bindparam(n, type_=sa.Date) for n in ("today", "late", "horizon"))
CLINIC = sa.bindparam("clinic", type_=sa.Integer)
CLINICS = sa.bindparam("clinics", expanding=True, type_=sa.Integer)
CODE = sa.bindparam("code", type_=sa.String)
PAGE_COLUMNS = ("patient_id", "due", "due_working_day", "booked_date", "codes", "local_number")


def _list_conditions(category: str) -> list:
    """R10 in the engine's order, as one indexed range over the stored controls per list.

    The partial indexes' conditions are repeated literally (design.md's traps); a control
    whose patient's hold runs is on hold whatever its due date, and overdue before all else.
    """
    not_held = sa.or_(Control.hold_until.is_(None), Control.hold_until <= TODAY)
    window = [Control.due >= LATE, Control.due <= HORIZON]
    if category == "on_hold":
        return [CONTROL_HELD, Control.hold_until > TODAY]
    if category == "overdue":
        return [Control.due < LATE, not_held]
    if category == "to_book":
        return [CONTROL_TO_BOOK, *window, not_held]
    # A booked control is listed whatever its due date (R10), a coordinated one from the
    # horizon on (R8): one range from `late`, the horizon a filter within the index.
    waiting = [CONTROL_WAITING, Control.due >= LATE]
    booked_or_near = sa.or_(Control.stage == "booked", Control.due <= HORIZON)
    if category == "results_missing":
        return [*waiting, booked_or_near, Control.results_on <= TODAY, not_held]
    pending = sa.or_(Control.results_on.is_(None), Control.results_on > TODAY)
    if category == "booked":
        return [*waiting, Control.stage == "booked", pending]
    return [*waiting, Control.due <= HORIZON, Control.stage == "coordinated", pending, not_held]


def _list_query(columns, category: str, several: bool, code: bool):
    """The controls of one list, of the clinics, holding an exam `code` if asked."""
    clinic = Control.clinic_id.in_(CLINICS) if several else Control.clinic_id == CLINIC
    query = sa.select(*columns).where(clinic, *_list_conditions(category))
    if code:
        query = query.where((" " + Control.codes + " ").like(CODE))
    return query


def _parameters(ctx: Context, clinic_ids: list[int], code: str | None) -> dict:
    """The values of the statements' parameters for a request."""
    return {
        "today": ctx.today,
        "late": ctx.today - timedelta(days=ctx.settings.overdue_after_days),
        "horizon": ctx.today + timedelta(days=ctx.settings.book_ahead_days),
        "clinic": clinic_ids[0] if clinic_ids else None,
        "clinics": list(clinic_ids),
        "code": f"% {code} %",
    }


@cache
def _count_statement(category: str, several: bool, code: bool):
    return _list_query([sa.func.count()], category, several, code).select_from(Control)


@cache
def _rows_statement(category: str, several: bool, code: bool):
    """One list's controls from `offset`, by due date, then by local reference."""
    columns = [getattr(Control, c) for c in PAGE_COLUMNS]
    return (
        _list_query(columns, category, several, code)
        .order_by(Control.due, Control.local_number)
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
    )


@cache
def _page_statement(category: str, several: bool, code: bool):
    """The list's rows with the patients' names (a sort of the page's rows alone)."""
    controls = _rows_statement(category, several, code).subquery()
    return (
        sa.select(controls, Patient.name)
        .join(Patient, Patient.id == controls.c.patient_id)
        .order_by(controls.c.due, controls.c.local_number)
    )


@cache
def _counts_statement(several: bool, code: bool):
    """Every list's count in one statement: each an indexed range of its own."""
    clinic = (lambda column: column.in_(CLINICS)) if several else (lambda column: column == CLINIC)
    side_lists = {
        "mdt_review": sa.select(sa.func.count())
        .select_from(Patient)
        .where(clinic(Patient.clinic_id), sa.text("mdt_review")),
        "booking_to_cancel": sa.select(sa.func.count())
        .select_from(PlannedExam)
        .where(clinic(PlannedExam.clinic_id), sa.text("booking_to_cancel")),
        "lost_to_follow_up": sa.select(sa.func.count())
        .select_from(Patient)
        .where(clinic(Patient.clinic_id), sa.text("lost_to_follow_up")),
    }
    queries = {c: _count_statement(c, several, code) for c in CATEGORIES} | side_lists
    return sa.select(*(q.scalar_subquery().label(name) for name, q in queries.items()))


def list_count_query(category: str, ctx: Context, clinic_ids: list[int], code: str | None = None):
    """The count of one list's controls, its parameters bound (to read its plan)."""
    statement = _count_statement(category, len(clinic_ids) > 1, bool(code))
    return statement.params(_parameters(ctx, clinic_ids, code))


def list_page_query(
    category: str, ctx: Context, clinic_ids: list[int], code: str | None, offset: int, limit: int
):
    """One list's page of controls, its parameters bound (to read its plan)."""
    statement = _rows_statement(category, len(clinic_ids) > 1, bool(code))
    return statement.params(_parameters(ctx, clinic_ids, code) | {"offset": offset, "limit": limit})


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
    if not clinic_ids:
        return WorklistPage((), dict.fromkeys(LISTS, 0), 0, page, page_size)
    values, several = _parameters(ctx, clinic_ids, code), len(clinic_ids) > 1
    counts = _counts(session, values, several, bool(code))
    items = _page(session, ctx, values, several, code, counts, category, page, page_size)
    total = counts[category] if category else sum(counts[c] for c in CATEGORIES)
    return WorklistPage(items, counts, total, page, page_size)


def _counts(session: Session, values: dict, several: bool, code: bool) -> dict[str, int]:
    row = session.execute(_counts_statement(several, code), values).one()
    return {name: row._mapping[name] or 0 for name in LISTS}


def _page(session, ctx, values, several, code, counts, category, page, page_size):
    """The page's rows, list after list in R10's order: each list read from its offset."""
    skip, wanted, found = (page - 1) * page_size, page_size, []
    for listed in (category,) if category else CATEGORIES:
        if wanted == 0:
            break
        if skip >= counts[listed]:
            skip -= counts[listed]
            continue
        statement = _page_statement(listed, several, bool(code))
        rows = session.execute(statement, values | {"offset": skip, "limit": wanted}).all()
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
