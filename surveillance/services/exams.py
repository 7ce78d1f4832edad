"""Planned exams: booking, result, missed, and the cancelled booking seen to (R9, R10)."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import date, time

from sqlalchemy.orm import Session

from ..db.models import PlannedExam
from ..errors import Conflict, InputError, NotFound
from ..protocol import needs_mdt_review
from ..protocol.vocabulary import CT_EXAMS, CT_RESULTS
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
        day = _after_treatment("date", parse_date("date", date), exam)
        check_horizon("date", day, ctx.today)
        exam.state, exam.booked_date = "booked", day
        exam.booked_time = parse_time("time", time)
        exam.booked_place = parse_text("place", place, max_length=200, required=False)
        exam.sequence += 1
        record_event(
            session, ctx.actor, "exam.book", exam.patient_id, exam=exam.id, date=day.isoformat()
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
        _require_state(
            exam, ("open", "booked", "missed"), "is %(state)s and cannot be given a result"
        )
        day = check_not_future("done_date", parse_date("done_date", done_date), ctx.today)
        exam.done_date = _after_treatment("done_date", day, exam)
        if exam.code in CT_EXAMS:
            exam.result, exam.result_value = parse_choice("result", result, CT_RESULTS), None
        else:
            exam.result, exam.result_value = None, parse_cea("value", value)
        exam.state = "done"
        exam.sequence += 1
        patient = exam.patient
        if needs_mdt_review(exam.code, exam.result, exam.result_value, ctx.settings):
            patient.mdt_review = True
            patient.mdt_reason = f"{exam.code} {exam.done_date.isoformat()}"
        replan(session, patient, ctx)  # the last control done completes surveillance (R7)
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


def _after_treatment(field: str, day: date, exam: PlannedExam) -> date:
    """A follow-up date: not before the liver treatment the exam follows."""
    if day < exam.anchor_treatment.date:
        raise InputError(field, day.isoformat(), "is before the liver treatment it follows")
    return day


def _require_state(exam: PlannedExam, states: tuple[str, ...], problem: str) -> None:
    if exam.state not in states:
        raise InputError("exam", exam.id, problem, state=exam.state)
