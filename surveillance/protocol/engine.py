"""One engine, one answer: the facts and today -> each exam's state and list, flags, status."""

from __future__ import annotations

from datetime import date, timedelta

from .model import (
    Answer,
    ExamAnswer,
    ExamRecord,
    FlagAnswer,
    History,
    Plan,
    PlannedExam,
    Protocol,
    Settings,
)
from .planning import DEFAULT_SETTINGS, make_plan
from .results import mdt_flags
from .states import Decision, ExamState, Flag, MdtReason, Status, WorkList

CLOSED = frozenset({ExamState.DONE, ExamState.CANCELLED})
# R10 v2 reading: on hold lists the exams a nurse would otherwise book; a booked exam keeps
# its appointment and its own list (its result will be wanted by the MDT anyway).
HELD = frozenset({ExamState.OPEN, ExamState.MISSED})


def evaluate(
    protocol: Protocol,
    history: History,
    today: date,
    settings: Settings = DEFAULT_SETTINGS,
    plan: Plan | None = None,
) -> Answer:
    """The whole answer of protocol.md v2 for one patient on `today`.

    `plan` is make_plan's answer for the same facts when the caller has made it already
    (the bulk loader plans every patient first: planning twice cost it about 2 s per 5,000
    patients, measured).
    """
    plan = make_plan(protocol, history, settings) if plan is None else plan
    bookings = cancel_booking_flags(plan, history)
    if plan.anchor is None:
        status = Status.ENDED if plan.ended else None
        return Answer(plan, today, (), tuple(bookings), status, plan.ended)
    hold_until, lapsed = hold(protocol, history, today)
    records = {(r.code, r.due): r for r in history.records}
    exams = tuple(
        exam_answer(e, records.get((e.code, e.due)), today, hold_until is not None, settings)
        for e in plan.exams
    )
    flags = mdt_flags(protocol, history, plan.anchor.date, settings) + lapsed
    flags += lost_flags(exams, today, settings) + bookings
    return Answer(
        plan, today, exams, tuple(flags), _status(exams, flags, hold_until), None, hold_until
    )


def exam_answer(
    exam: PlannedExam,
    record: ExamRecord | None,
    today: date,
    on_hold: bool,
    settings: Settings = DEFAULT_SETTINGS,
) -> ExamAnswer:
    """R8, R10: an exam's state and list; its own record wins over its partner."""
    partner = exam.coordinated_with
    if record is not None:
        state, done_on, result = record.state, record.done, record.result
    elif partner is not None and partner.result_for(exam.code) is not None:
        state, done_on, result = ExamState.DONE, partner.date, partner.result_for(exam.code)
    else:
        state, done_on, result = ExamState.OPEN, None, None
    listed = _list(exam, record, state, today, on_hold, settings)
    return ExamAnswer(exam, state, listed, record, done_on, result)


def _list(
    exam: PlannedExam,
    record: ExamRecord | None,
    state: ExamState,
    today: date,
    on_hold: bool,
    settings: Settings,
) -> WorkList | None:
    """R10 in its order: hold, overdue, booked, coordinated, then timing."""
    if state in CLOSED:
        return None
    if on_hold and state in HELD:
        return WorkList.ON_HOLD
    if today > exam.due + timedelta(days=settings.overdue_after_days):
        return WorkList.OVERDUE
    if state == ExamState.BOOKED:
        booked = record.booked if record else None
        return WorkList.BOOKED if booked is None or today <= booked else WorkList.RESULTS_MISSING
    if today < exam.due - timedelta(days=settings.book_ahead_days):
        return WorkList.UPCOMING
    partner = exam.coordinated_with
    if record is None and partner is not None:
        pending = not partner.done and today <= partner.date
        return WorkList.COORDINATED if pending else WorkList.RESULTS_MISSING
    return WorkList.TO_BOOK


def hold(protocol: Protocol, history: History, today: date) -> tuple[date | None, list[FlagAnswer]]:
    """R13: the day an active hold lapses (None if not on hold), and a lapsed hold's flag."""
    latest = max(history.decisions, key=lambda d: d.date, default=None)
    if latest is None or latest.decision != Decision.TREATMENT_PLANNED:
        return None, []
    if any(t.date > latest.date for t in history.treatments):
        return None, []
    lapses = latest.date + timedelta(days=protocol.hold_days)
    if today < lapses:
        return lapses, []
    return None, [FlagAnswer(Flag.MDT_REVIEW, lapses, MdtReason.HOLD_LAPSED)]


def lost_flags(
    exams: tuple[ExamAnswer, ...], today: date, settings: Settings = DEFAULT_SETTINGS
) -> list[FlagAnswer]:
    """R14: the two latest controls due before T - 30 each have an exam overdue."""
    limit = today - timedelta(days=settings.overdue_after_days)
    dues = sorted({e.planned.due for e in exams if e.planned.due < limit})[-2:]
    if len(dues) < 2:
        return []
    overdue = {e.planned.due for e in exams if e.list == WorkList.OVERDUE}
    if all(due in overdue for due in dues):
        return [FlagAnswer(Flag.LOST_TO_FOLLOW_UP, dues[-1])]
    return []


def cancel_booking_flags(plan: Plan, history: History) -> list[FlagAnswer]:
    """R6, R9: a booking still held on an exam the plan no longer has."""
    planned = {(e.code, e.due) for e in plan.exams}
    return [
        FlagAnswer(Flag.CANCEL_BOOKING, r.booked, exam=r.code, due=r.due)
        for r in sorted(history.records, key=lambda r: (r.due, r.code))
        if r.state == ExamState.BOOKED and (r.code, r.due) not in planned
    ]


def _status(
    exams: tuple[ExamAnswer, ...], flags: list[FlagAnswer], hold_until: date | None
) -> Status:
    """R7, R15: on hold, completed once every exam is resolved and no MDT flag stands."""
    if hold_until is not None:
        return Status.ON_HOLD
    resolved = all(e.state in CLOSED for e in exams)
    if resolved and not any(f.flag == Flag.MDT_REVIEW for f in flags):
        return Status.COMPLETED
    return Status.ACTIVE
