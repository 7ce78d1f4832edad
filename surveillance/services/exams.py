"""Planned exams: booking, result, missed, and the cancelled booking seen to (R9, R10)."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import date, time, timedelta

from sqlalchemy.orm import Session

from ..db.models import PlannedExam
from ..errors import Conflict, InputError, NotFound
from ..protocol.vocabulary import CT_EXAMS, READINGS
from .audit import record_event
from .context import Context
from .plans import replan
from .transactions import transaction
from .validate import (
    check_horizon,
    check_not_future,
    parse_cea,
    parse_choice,
    parse_date,
    parse_text,
    parse_time,
)

# R12 (local): a booking more than 90 days before the due date is for another control.
BOOK_EARLIEST_DAYS = 90


def get_exam(
    session: Session,
    exam_id: int,
    clinic_ids: AbstractSet[int] | None = None,
    expected_version: int | None = None,
) -> PlannedExam:
    """A planned exam by id, within the given clinics; a stale version is refused."""
    exam = session.get(PlannedExam, exam_id)
    if exam is None or (clinic_ids is not None and exam.clinic_id not in clinic_ids):
        raise NotFound(f"exam {exam_id} not found")
    if expected_version is not None and exam.version != expected_version:
        raise Conflict("The exam was changed by someone else. Reload the page and try again.")
    return exam


def record_booking(
    session: Session,
    ctx: Context,
    exam_id: int,
    *,
    date: date | str | None,
    time: time | str | None = None,
    place: str | None = None,
    expected_version: int | None = None,
) -> PlannedExam:
    """Book an open (or missed, or re-book a booked) exam for a date, maybe a time and place."""
    with transaction(session):
        exam = get_exam(session, exam_id, ctx.clinic_ids, expected_version)
        _require_state(exam, ("open", "booked", "missed"), "is %(state)s and cannot be booked")
        day = _booking_window(exam, _after_treatment("date", parse_date("date", date), exam))
        check_horizon("date", day, ctx.today)
        before = _booking(exam)
        exam.state, exam.booked_date = "booked", day
        exam.booked_time = parse_time("time", time)
        exam.booked_place = parse_text("place", place, max_length=200, required=False)
        exam.sequence += 1
        replan(session, exam.patient, ctx)
        record_event(
            session,
            ctx.actor,
            "exam.book",
            exam.patient_id,
            exam=exam.id,
            date=day.isoformat(),
            before=before,
        )
    return exam


def record_result(
    session: Session,
    ctx: Context,
    exam_id: int,
    *,
    done_date: date | str | None,
    result: str | None = None,
    value: float | str | None = None,
    expected_version: int | None = None,
) -> PlannedExam:
    """Record a result: CT normal/suspicious, CEA in µg/L; an alarming one flags MDT review."""
    with transaction(session):
        exam = get_exam(session, exam_id, ctx.clinic_ids, expected_version)
        if not exam.result_from_control:  # its own result replaces its partner's (R8)
            _require_state(
                exam, ("open", "booked", "missed"), "is %(state)s and cannot be given a result"
            )
        exam.result_from_control = False
        _set_result(exam, ctx, done_date, result, value)
        patient = exam.patient
        replan(session, patient, ctx)  # flags (R9) and completion (R7) come from the engine
        record_event(
            session,
            ctx.actor,
            "exam.result",
            exam.patient_id,
            exam=exam.id,
            mdt_review=patient.mdt_review,
        )
    return exam


def record_missed(
    session: Session,
    ctx: Context,
    exam_id: int,
    *,
    reason: str | None,
    contact_attempt: str | None = None,
    expected_version: int | None = None,
) -> PlannedExam:
    """The patient did not come: say why, and how they were contacted."""
    with transaction(session):
        exam = get_exam(session, exam_id, ctx.clinic_ids, expected_version)
        _require_state(exam, ("open", "booked"), "is %(state)s and cannot be marked missed")
        exam.missed_reason = parse_text("reason", reason, max_length=2000)
        exam.contact_attempt = parse_text(
            "contact_attempt", contact_attempt, max_length=2000, required=False
        )
        exam.state = "missed"
        exam.sequence += 1
        replan(session, exam.patient, ctx)
        record_event(session, ctx.actor, "exam.missed", exam.patient_id, exam=exam.id)
    return exam


def cancel_exam(
    session: Session,
    ctx: Context,
    exam_id: int,
    *,
    reason: str | None,
    expected_version: int | None = None,
) -> PlannedExam:
    """The clinic decides an exam will not be done (the patient declined it, say); a re-plan keeps it so."""
    with transaction(session):
        exam = get_exam(session, exam_id, ctx.clinic_ids, expected_version)
        _require_state(exam, ("open", "booked", "missed"), "is %(state)s and cannot be cancelled")
        exam.cancel_note = parse_text("reason", reason, max_length=2000)
        exam.booking_to_cancel = exam.state == "booked"
        exam.state, exam.cancel_reason = "cancelled", "by_clinic"
        exam.sequence += 1
        replan(
            session, exam.patient, ctx
        )  # cancelling the last control completes surveillance (R7)
        record_event(session, ctx.actor, "exam.cancel", exam.patient_id, exam=exam.id)
    return exam


def confirm_booking_cancelled(
    session: Session, ctx: Context, exam_id: int, *, expected_version: int | None = None
) -> PlannedExam:
    """The nurse has cancelled the appointment of an exam a re-plan cancelled."""
    with transaction(session):
        exam = get_exam(session, exam_id, ctx.clinic_ids, expected_version)
        if not exam.booking_to_cancel:
            raise InputError("exam", exam_id, "has no booking waiting to be cancelled")
        exam.booking_to_cancel = False
        record_event(session, ctx.actor, "exam.booking_cancelled", exam.patient_id, exam=exam.id)
    return exam


def _set_result(exam: PlannedExam, ctx: Context, done_date, result, value) -> None:
    """R12: a result dated before D - 42 belongs to no control: say what to do instead."""
    day = check_not_future("done_date", parse_date("done_date", done_date), ctx.today)
    earliest = exam.due - timedelta(days=ctx.settings.book_ahead_days)
    if day < earliest:
        raise InputError(
            "done_date",
            day.isoformat(),
            "is before %(earliest)s, too early for the exam due %(due)s: record it as an"
            " extra measurement (CEA) or ask for an extra exam instead",
            earliest=earliest.isoformat(),
            due=exam.due.isoformat(),
        )
    exam.done_date = _after_treatment("done_date", day, exam)
    if exam.code in CT_EXAMS:
        exam.result, exam.result_value = parse_choice("result", result, READINGS), None
    else:
        exam.result, exam.result_value = None, parse_cea("value", value)
    exam.state = "done"
    exam.sequence += 1


def _booking_window(exam: PlannedExam, day: date) -> date:
    """R12: from D - 90 days to before the due date of the next exam of the same code."""
    earliest = exam.due - timedelta(days=BOOK_EARLIEST_DAYS)
    if day < earliest:
        raise InputError(
            "date",
            day.isoformat(),
            "is before %(earliest)s, more than %(days)d days before the due date %(due)s",
            earliest=earliest.isoformat(),
            days=BOOK_EARLIEST_DAYS,
            due=exam.due.isoformat(),
        )
    later = [
        e.due
        for e in exam.patient.exams
        if e.code == exam.code and e.due > exam.due and e.state not in ("cancelled",)
    ]
    if later and day >= min(later):
        raise InputError(
            "date",
            day.isoformat(),
            "is on or after %(next)s, when the next exam of this kind is due: book that one"
            " instead",
            next=min(later).isoformat(),
        )
    return day


def _booking(exam: PlannedExam) -> dict | None:
    if exam.booked_date is None:
        return None
    return {"date": exam.booked_date.isoformat(), "place": exam.booked_place}


def _after_treatment(field: str, day: date, exam: PlannedExam) -> date:
    """A follow-up date: not before the liver treatment the exam follows."""
    if day < exam.anchor_treatment.date:
        raise InputError(field, day.isoformat(), "is before the liver treatment it follows")
    return day


def _require_state(exam: PlannedExam, states: tuple[str, ...], problem: str) -> None:
    if exam.state not in states:
        raise InputError("exam", exam.id, problem, state=exam.state)
