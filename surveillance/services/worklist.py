"""The worklist (R10): what a clinic must book, chase or review today, overdue first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from operator import itemgetter
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session

from ..db.models import (
    CONTROL_HELD,
    CONTROL_SORT_KEYS,
    CONTROL_TO_BOOK,
    CONTROL_WAITING,
    Control,
    ListStamp,
    Patient,
    PlannedExam,
)
from ..errors import InputError
from ..protocol.vocabulary import PLAN_EXAMS
from .context import Context
from .kept import Kept
from .validate import EARLIEST, LATEST, parse_date

# In the order a nurse works through them (R10): coordinated controls need no booking, and
# those of a patient on hold wait for the MDT's treatment.
CATEGORIES = ("overdue", "results_missing", "to_book", "booked", "coordinated", "on_hold")
LISTS = CATEGORIES + ("mdt_review", "booking_to_cancel", "lost_to_follow_up")


class WorklistItem(NamedTuple):
    """One control of one patient: the exams due that day that share a state.

    A named tuple, not a frozen dataclass: as immutable, and made in a quarter of the time (a
    frozen dataclass sets each field through object.__setattr__), for up to a page's 50
    rows on every worklist (issue 10)."""

    category: str
    patient_id: int
    reference: str
    name: str
    birth_date: date
    codes: tuple[str, ...]
    due: date
    due_working_day: date
    booked_date: date | None
    days_late: int  # today minus the due date; negative while still ahead
    missed: bool = False  # an exam of the control was missed: to book again


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
DUE_FROM, DUE_TO = (sa.bindparam(n, type_=sa.Date) for n in ("due_from", "due_to"))
PAGE_COLUMNS = (
    "id",
    "patient_id",
    "due",
    "due_working_day",
    "booked_date",
    "codes",
    "local_number",
    "missed",
    "name_order",
    "birth_date",
)


class Unindexed(sa.sql.functions.FunctionElement):
    """A date column SQLite may not search an index by: `+due` (its documented way), so that
    a list sorted by another key walks that key's index instead of sorting a range of the
    due date's. PostgreSQL weighs both by costs: the column as it is."""

    type = sa.Date()
    inherit_cache = True


@compiles(Unindexed)
def _as_is(element, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(Unindexed, "sqlite")
def _unary_plus(element, compiler, **kw) -> str:
    return "+" + compiler.process(element.clauses, **kw)


def _list_conditions(category: str, due=Control.due) -> list:
    """R10 in the engine's order, as one indexed range over the stored controls per list.

    The partial indexes' conditions are repeated literally (design.md's traps); a control
    whose patient's hold runs is on hold whatever its due date, and overdue before all else.
    `due` is the column itself, or Unindexed when the list is walked in another key's order.
    """
    not_held = sa.or_(Control.hold_until.is_(None), Control.hold_until <= TODAY)
    window = [due >= LATE, due <= HORIZON]
    if category == "on_hold":
        return [CONTROL_HELD, Control.hold_until > TODAY]
    if category == "overdue":
        return [due < LATE, not_held]
    if category == "to_book":
        return [CONTROL_TO_BOOK, *window, not_held]
    # A booked control is listed whatever its due date (R10), a coordinated one from the
    # horizon on (R8): one range from `late`, the horizon a filter within the index.
    waiting = [CONTROL_WAITING, due >= LATE]
    booked_or_near = sa.or_(Control.stage == "booked", due <= HORIZON)
    if category == "results_missing":
        return [*waiting, booked_or_near, Control.results_on <= TODAY, not_held]
    pending = sa.or_(Control.results_on.is_(None), Control.results_on > TODAY)
    if category == "booked":
        return [*waiting, Control.stage == "booked", pending]
    return [*waiting, due <= HORIZON, Control.stage == "coordinated", pending, not_held]


@dataclass(frozen=True, slots=True)
class Shape:
    """What a request asks of a list's statement beyond the list: each a cached variant."""

    several: bool = False  # more than one clinic
    code: bool = False  # only controls holding an exam code
    ranged: bool = False  # only controls due within [due_from, due_to]
    latest_first: bool = False  # the latest first (the index walked backwards)
    key: str = "due"  # the column sorted by: "due", or one of CONTROL_SORT_KEYS


def _list_query(columns, category: str, shape: Shape):
    """The controls of one list, of the clinics, holding an exam `code` if asked."""
    clinic = Control.clinic_id.in_(CLINICS) if shape.several else Control.clinic_id == CLINIC
    due = Control.due if shape.key == "due" else Unindexed(Control.due)
    query = sa.select(*columns).where(clinic, *_list_conditions(category, due))
    if shape.code:
        query = query.where((" " + Control.codes + " ").like(CODE))
    if shape.ranged:
        query = query.where(due >= DUE_FROM, due <= DUE_TO)
    return query


def _order(shape: Shape, columns) -> tuple:
    """By due date, then by local reference; or by a sort key, then due date, then id.

    Each order is that of an index of the list (CONTROL_SORT_INDEXES), reversed for the
    latest (or last) first: the page is read in it, never sorted whole.
    """
    names = ("due", "local_number") if shape.key == "due" else (shape.key, "due", "id")
    order = [columns[name] for name in names]
    return tuple(c.desc() for c in order) if shape.latest_first else tuple(order)


def _parameters(
    ctx: Context, clinic_ids: list[int], code: str | None, due_range: tuple = (None, None)
) -> dict:
    """The values of the statements' parameters for a request."""
    return {
        "due_from": due_range[0] or EARLIEST,
        "due_to": due_range[1] or LATEST,
        "today": ctx.today,
        "late": ctx.today - timedelta(days=ctx.settings.overdue_after_days),
        "horizon": ctx.today + timedelta(days=ctx.settings.book_ahead_days),
        "clinic": clinic_ids[0] if clinic_ids else None,
        "clinics": list(clinic_ids),
        "code": f"% {code} %",
    }


@cache
def _count_statement(category: str, shape: Shape):
    return _list_query([sa.func.count()], category, shape).select_from(Control)


@cache
def _rows_statement(category: str, shape: Shape):
    """One list's controls from `offset`, by due date, then by local reference."""
    columns = [getattr(Control, c) for c in PAGE_COLUMNS]
    return (
        _list_query(columns, category, shape)
        .order_by(*_order(shape, Control.__table__.c))
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
    )


@cache
def _page_statement(category: str, shape: Shape):
    """The list's rows with the patients' names (a sort of the page alone)."""
    controls = _rows_statement(category, shape).subquery()
    return (
        sa.select(controls, Patient.name)
        .join(Patient, Patient.id == controls.c.patient_id)
        .order_by(*_order(shape, controls.c))
    )


@cache
def _counts_statement(shape: Shape):
    """Every list's count in one statement: each an indexed range of its own."""
    several = shape.several
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
    counted = Shape(several, shape.code, shape.ranged)  # the order counts nothing
    queries = {c: _count_statement(c, counted) for c in CATEGORIES} | side_lists
    return sa.select(*(q.scalar_subquery().label(name) for name, q in queries.items()))


_STAMPS = (
    sa.select(ListStamp.clinic_id, ListStamp.stamp)
    .where(ListStamp.clinic_id.in_(CLINICS))
    .order_by(ListStamp.clinic_id)
)


def list_stamps(session: Session, clinic_ids: list[int]) -> tuple[tuple[int, int], ...]:
    """The clinics' list stamps (migration 0018), to key what is kept of their lists by.

    Read them before the data they key (never after: a write in between would leave its
    data under the older stamp, which no later reader sees again).
    """
    return tuple((r.clinic_id, r.stamp) for r in session.execute(_STAMPS, {"clinics": clinic_ids}))


def list_count_query(
    category: str,
    ctx: Context,
    clinic_ids: list[int],
    code: str | None = None,
    due_range: tuple[date | None, date | None] = (None, None),
):
    """The count of one list's controls, its parameters bound (to read its plan)."""
    shape = Shape(len(clinic_ids) > 1, bool(code), due_range != (None, None))
    statement = _count_statement(category, shape)
    return statement.params(_parameters(ctx, clinic_ids, code, due_range))


def list_page_query(
    category: str,
    ctx: Context,
    clinic_ids: list[int],
    code: str | None,
    offset: int,
    limit: int,
    *,
    due_range: tuple[date | None, date | None] = (None, None),
    latest_first: bool = False,
    sort_key: str = "due",
):
    """One list's page of controls, its parameters bound (to read its plan)."""
    _check_sort_key(sort_key)
    shape = Shape(
        len(clinic_ids) > 1, bool(code), due_range != (None, None), latest_first, sort_key
    )
    values = _parameters(ctx, clinic_ids, code, due_range)
    return _rows_statement(category, shape).params(values | {"offset": offset, "limit": limit})


def worklist(
    session: Session,
    ctx: Context,
    clinic_ids: list[int],
    *,
    category: str | None = None,
    code: str | None = None,
    page: int = 1,
    page_size: int = 50,
    due_from: date | str | None = None,
    due_to: date | str | None = None,
    latest_first: bool = False,
    sort_key: str = "due",
    counts: Kept[dict[str, int]] | None = None,
) -> WorklistPage:
    """The clinics' worklist page: counts of every list and the rows of one (or of all four).

    `due_from` and `due_to` keep the controls due within them (both days included), counts
    too; each list is in the order of `sort_key` ("due" or one of CONTROL_SORT_KEYS), then
    by due date; `latest_first` reverses it. With `counts`, the lists' counts are taken
    from it while the clinics' data are unchanged (their stamps), else counted and kept.
    """
    _check_arguments(category, code, page, page_size)
    _check_sort_key(sort_key)
    due_range = _due_range(due_from, due_to)
    if not clinic_ids:
        return WorklistPage((), dict.fromkeys(LISTS, 0), 0, page, page_size)
    if session.autoflush:  # as the ORM's execute would: the lists see what is pending
        session.flush()
    values = _parameters(ctx, clinic_ids, code, due_range)
    ranged = due_range != (None, None)
    shape = Shape(len(clinic_ids) > 1, bool(code), ranged, latest_first, sort_key)
    found = _kept_counts(session, values, shape, counts)
    items = _page(session, ctx, values, shape, code, found, category, page, page_size)
    total = found[category] if category else sum(found[c] for c in CATEGORIES)
    return WorklistPage(items, found, total, page, page_size)


def _due_range(due_from, due_to) -> tuple[date | None, date | None]:
    """The range of due dates asked for, each end optional; refused if it ends before it starts."""
    start = parse_date("due_from", due_from) if due_from else None
    end = parse_date("due_to", due_to) if due_to else None
    if start and end and end < start:
        raise InputError("due_to", end.isoformat(), "is before %(start)s", start=start.isoformat())
    return start, end


def _kept_counts(
    session: Session, values: dict, shape: Shape, cache: Kept[dict[str, int]] | None
) -> dict[str, int]:
    """The counts from `cache` while the clinics' stamps hold, else counted (and kept)."""
    if cache is None:
        return _counts(session, values, shape)
    stamps = list_stamps(session, values["clinics"])
    asked = ("clinics", "today", "late", "horizon", "code", "due_from", "due_to")
    key = (shape.several, shape.code, shape.ranged, stamps) + tuple(
        tuple(values[name]) if name == "clinics" else values[name] for name in asked
    )
    found = cache.get(key)
    if found is None:
        found = _counts(session, values, shape)
        cache.put(key, found)
    return dict(found)


# The lists' statements select columns, not entities: they run on the session's connection,
# as Core, which returns the rows without the ORM's result machinery (issue 10: an eighth of
# worklist()'s time on a small clinic). Core does not flush first: worklist() does.


def _counts(session: Session, values: dict, shape: Shape) -> dict[str, int]:
    row = session.connection().execute(_counts_statement(shape), values).one()
    return {name: row._mapping[name] or 0 for name in LISTS}


def _page(session, ctx, values, shape, code, counts, category, page, page_size):
    """The page's rows, list after list in R10's order: each list read from its offset."""
    skip, wanted, found = (page - 1) * page_size, page_size, []
    for listed in (category,) if category else CATEGORIES:
        if wanted == 0:
            break
        if skip >= counts[listed]:
            skip -= counts[listed]
            continue
        statement = _page_statement(listed, shape)
        rows = (
            session.connection()
            .execute(statement, values | {"offset": skip, "limit": wanted})
            .all()
        )
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


def _check_sort_key(key: str) -> None:
    if key != "due" and key not in CONTROL_SORT_KEYS:
        choices = ", ".join(("due", *CONTROL_SORT_KEYS))
        raise InputError("sort", key, "is not one of %(choices)s", choices=choices)


# A row's fields by position (_page_statement's columns: PAGE_COLUMNS, then the name), not
# read by name: a Row's attribute costs about 0.3 us, nine of them for each of a page's rows.
_ITEM_FIELDS = itemgetter(
    *(
        PAGE_COLUMNS.index(name)
        for name in (
            "patient_id",
            "due",
            "due_working_day",
            "booked_date",
            "codes",
            "local_number",
            "missed",
            "birth_date",
        )
    ),
    len(PAGE_COLUMNS),
)


def _item(category: str, row, ctx: Context, code: str | None) -> WorklistItem:
    patient_id, due, working_day, booked, codes, number, missed, born, name = _ITEM_FIELDS(row)
    return WorklistItem(
        category,
        patient_id,
        ctx.reference(number),
        name,
        born,
        (code,) if code else tuple(codes.split()),
        due,
        working_day,
        booked,
        (ctx.today - due).days,
        missed,
    )
