"""A list of the worklist, whole, for a spreadsheet: every row, and an audit event for it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..errors import InputError
from .audit import record_event
from .context import Context
from .review import CancelRow, PatientRow, bookings_to_cancel, lost_to_follow_up, mdt_review
from .transactions import transaction
from .worklist import CATEGORIES, WorklistItem, worklist

MAX_EXPORT_ROWS = 10_000  # a spreadsheet, not a backup
SIDE_LISTS = ("mdt_review", "booking_to_cancel", "lost_to_follow_up")
Exported = tuple[WorklistItem, ...] | list[PatientRow] | list[CancelRow]


def export_list(
    session: Session,
    ctx: Context,
    clinic_ids: list[int],
    name: str | None,
    code: str | None,
    due_range: tuple[str | None, str | None] = (None, None),
) -> Exported:
    """Every row of one list (None: the four of the worklist); names leave the dashboard.

    The controls' lists keep only those due within `due_range`, as the page showed them.
    """
    if name is not None and name not in CATEGORIES + SIDE_LISTS:
        raise InputError(
            "category",
            name,
            "is not one of %(choices)s",
            choices=", ".join(CATEGORIES + SIDE_LISTS),
        )
    with transaction(session):
        rows = _rows(session, ctx, clinic_ids, name, code, due_range)
        record_event(
            session, ctx.actor, "worklist.export", list=name or "all", exam=code, rows=len(rows)
        )
    return rows


def _rows(session: Session, ctx: Context, clinic_ids, name, code, due_range):
    if name == "mdt_review":
        return mdt_review(session, ctx, clinic_ids, limit=MAX_EXPORT_ROWS)
    if name == "lost_to_follow_up":
        return lost_to_follow_up(session, ctx, clinic_ids, limit=MAX_EXPORT_ROWS)
    if name == "booking_to_cancel":
        return bookings_to_cancel(session, ctx, clinic_ids, limit=MAX_EXPORT_ROWS)
    due_from, due_to = due_range
    page = worklist(
        session,
        ctx,
        clinic_ids,
        category=name,
        code=code,
        page=1,
        page_size=MAX_EXPORT_ROWS,
        due_from=due_from or None,
        due_to=due_to or None,
    )
    return page.items
