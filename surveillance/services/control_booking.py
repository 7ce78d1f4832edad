"""A control as the unit a nurse books: all its exams in one step, all or none."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time

from sqlalchemy.orm import Session

from ..db.models import PlannedExam
from ..errors import InputError
from .context import Context
from .exams import record_booking
from .transactions import transaction


def book_control(
    session: Session,
    ctx: Context,
    exams: Sequence[tuple[int, int | None]],
    *,
    date: date | str | None,
    time: time | str | None = None,
    place: str | None = None,
) -> list[PlannedExam]:
    """Book each (exam id, version) of one patient's control for one date, time and place."""
    if not exams:
        raise InputError("exams", "", "has no exam to book")
    with transaction(session):  # each booking joins it: one refused, none is saved
        booked = [
            record_booking(
                session, ctx, exam_id, date=date, time=time, place=place, expected_version=version
            )
            for exam_id, version in exams
        ]
        if len({exam.patient_id for exam in booked}) > 1:
            numbers = ", ".join(str(exam.id) for exam in booked)
            raise InputError("exams", numbers, "are not all of one patient")
    return booked
