"""R12: a recorded fact on an exam corrected or withdrawn, with a reason, old and new audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial

from sqlalchemy.orm import Session

from ..db.models import PlannedExam
from ..errors import InputError
from .audit import record_event
from .context import Context
from .exams import _set_result, get_exam
from .plans import OWN_CANCEL, replan
from .transactions import transaction
from .validate import parse_text


def correct_result(
    session: Session,
    ctx: Context,
    exam_id: int,
    *,
    reason: str | None,
    done_date: date | str | None,
    result: str | None = None,
    value: float | str | None = None,
    expected_version: int | None = None,
) -> PlannedExam:
    """Replace a recorded result (date, reading or value); flags and status are recomputed."""
    with transaction(session):
        exam = get_exam(session, exam_id, ctx.clinic_ids, expected_version)
        _require_own(exam, "done", "has no result of its own to correct")
        why, before = parse_text("reason", reason, max_length=2000), _facts(exam)
        _set_result(exam, ctx, done_date, result, value)
        return _recorded(session, ctx, exam, "exam.correct_result", before, why)


def withdraw(
    session: Session,
    ctx: Context,
    exam_id: int,
    *,
    fact: str,
    reason: str | None,
    expected_version: int | None = None,
) -> PlannedExam:
    """Withdraw one recorded fact of an exam (a fact of WITHDRAWALS), audited with its reason."""
    undo = WITHDRAWALS.get(fact)
    if undo is None:
        raise InputError("fact", fact, "is not one of %(choices)s", choices=", ".join(WITHDRAWALS))
    with transaction(session):
        exam = get_exam(session, exam_id, ctx.clinic_ids, expected_version)
        why, before = parse_text("reason", reason, max_length=2000), _facts(exam)
        undo(exam)
        return _recorded(session, ctx, exam, f"exam.withdraw_{fact}", before, why)


def _undo_result(exam: PlannedExam) -> None:
    """A result recorded on the wrong exam: the exam is booked again (if it was) or open."""
    _require_own(exam, "done", "has no result of its own to withdraw")
    exam.done_date = exam.result = exam.result_value = None
    exam.state = "booked" if exam.booked_date else "open"


def _undo_missed(exam: PlannedExam) -> None:
    """The patient did come after all (or the wrong exam was marked): the mark goes."""
    _require_own(exam, "missed", "is not marked missed")
    exam.missed_reason = exam.contact_attempt = None
    exam.state = "booked" if exam.booked_date else "open"


def _undo_cancellation(exam: PlannedExam) -> None:
    """A clinic's cancellation undone: the exam is planned again (its booking if still held)."""
    if exam.state != "cancelled" or exam.cancel_reason != OWN_CANCEL:
        raise InputError("exam", exam.id, "was not cancelled by the clinic")
    exam.cancel_reason = exam.cancel_note = None
    held = exam.booking_to_cancel and exam.booked_date is not None
    exam.state, exam.booking_to_cancel = ("booked" if held else "open"), False
    if not held:
        exam.booked_date = exam.booked_time = exam.booked_place = None


def _undo_booking(exam: PlannedExam) -> None:
    """A booking entered by mistake: the exam is to book again."""
    _require_own(exam, "booked", "is not booked")
    exam.booked_date = exam.booked_time = exam.booked_place = None
    exam.state = "open"


WITHDRAWALS: dict[str, Callable[[PlannedExam], None]] = {
    "result": _undo_result,
    "missed": _undo_missed,
    "cancellation": _undo_cancellation,
    "booking": _undo_booking,
}
# The verbs by name, as the services have always offered them.
withdraw_result = partial(withdraw, fact="result")
withdraw_missed = partial(withdraw, fact="missed")
withdraw_cancellation = partial(withdraw, fact="cancellation")
withdraw_booking = partial(withdraw, fact="booking")


def _require_own(exam: PlannedExam, state: str, problem: str) -> None:
    if exam.state != state or exam.result_from_control:
        raise InputError("exam", exam.id, problem)


def _recorded(
    session: Session, ctx: Context, exam: PlannedExam, action: str, before: dict, why: str | None
) -> PlannedExam:
    exam.sequence += 1
    replan(session, exam.patient, ctx)
    record_event(
        session,
        ctx.actor,
        action,
        exam.patient_id,
        exam=exam.id,
        before=before,
        after=_facts(exam),
        reason=why,
    )
    return exam


def _facts(exam: PlannedExam) -> dict:
    """What a correction may change, as the audit shows it."""
    return {
        "state": exam.state,
        "booked_date": exam.booked_date.isoformat() if exam.booked_date else None,
        "done_date": exam.done_date.isoformat() if exam.done_date else None,
        "result": exam.result,
        "value": exam.result_value,
        "missed_reason": exam.missed_reason,
        "cancel_note": exam.cancel_note,
    }
