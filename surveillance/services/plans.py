"""Keeping a patient's stored plan, states and flags equal to the engine's answer (R1-R15)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from ..db.models import Patient, PlannedExam
from ..protocol import (
    Answer,
    Changes,
    DecisionRecord,
    EndReason,
    ExamRecord,
    ExamState,
    Flag,
    History,
    Measurement,
    Plan,
    PrimaryControl,
    Protocol,
    Status,
    StoredExam,
    Treatment,
    evaluate,
    load_protocol,
    make_plan,
    reconcile,
)
from ..protocol.model import ExamAnswer, FlagAnswer
from ..protocol.replan import plan_key
from ..protocol.states import Decision
from .context import Context
from .control_rows import store_controls

# Statuses a person sets (R1): the engine cannot derive them from treatments or decisions.
PERSON_ENDED = frozenset({"not_candidate", "deceased", "moved", "declined"})
CANDIDATE_STATUSES = frozenset({"active", "completed", "on_hold"})
# A stored exam's own record, as the engine reads it; cancellations made by the program
# (superseded, ended) are no record: the plan decides those.
OWN_CANCEL = "by_clinic"


def patient_history(patient: Patient) -> History:
    """The engine's view of a patient's facts (voided and withdrawn ones left out)."""
    ended = _ended_by_person(patient)
    return History(
        treatments=tuple(
            Treatment(t.date, t.kind, t.id) for t in patient.treatments if t.voided_at is None
        ),
        primary_controls=tuple(
            PrimaryControl(
                c.date, c.exam_codes, c.id, c.done, tuple(sorted((c.results or {}).items()))
            )
            for c in patient.primary_controls
        ),
        candidate=ended is None,
        end_reason=ended,
        records=tuple(r for e in patient.exams if (r := exam_record(e)) is not None),
        measurements=tuple(
            Measurement(m.date, m.code, m.value)
            for m in patient.measurements
            if m.withdrawn_at is None
        ),
        decisions=tuple(
            DecisionRecord(d.date, Decision(d.decision), d.note, d.exam, d.due, d.id)
            for d in patient.decisions
            if d.withdrawn_at is None
        ),
    )


def _ended_by_person(patient: Patient) -> EndReason | None:
    if patient.status in PERSON_ENDED:
        return EndReason(patient.status)
    # "transplanted" set by a nurse without a transplant recorded is a person's ending too.
    if patient.status == "transplanted" and not any(
        t.voided_at is None and t.kind in load_protocol(patient.protocol).ending_kinds
        for t in patient.treatments
    ):
        return EndReason.TRANSPLANTED
    return None


def exam_record(exam: PlannedExam) -> ExamRecord | None:
    """What a nurse recorded on a stored exam, or None if nothing (or only its partner's)."""
    if exam.state == "done" and not exam.result_from_control:
        result = exam.result if exam.result is not None else exam.result_value
        return ExamRecord(exam.code, exam.due, exam.booked_date, exam.done_date, result)
    if exam.state == "booked":
        return ExamRecord(exam.code, exam.due, booked=exam.booked_date)
    if exam.state == "missed":
        return ExamRecord(exam.code, exam.due, missed=exam.due)
    if exam.state == "cancelled" and exam.cancel_reason == OWN_CANCEL:
        return ExamRecord(exam.code, exam.due, cancelled=exam.due, reason=exam.cancel_note)
    return None


def replan(session: Session, patient: Patient, ctx: Context) -> Changes:
    """Store the engine's answer: the plan (R6), each exam's state, the flags and the status."""
    session.flush()  # new treatments and controls need their ids as references
    protocol = load_protocol(patient.protocol)
    plan = make_plan(protocol, patient_history(patient), ctx.settings)
    by_ref = {e.id: e for e in patient.exams}
    changes = reconcile([_stored(e) for e in patient.exams], plan)
    reason = plan.ended.value if plan.ended else "superseded"
    for stored in changes.cancel:
        _cancel(by_ref[stored.ref], reason)
    for stored, planned in changes.update:
        _update(by_ref[stored.ref], planned)
    for planned in changes.create:
        source = planned.source or plan.anchor  # an extra exam belongs to the current plan
        assert source is not None and source.ref is not None  # a plan to create from has one
        patient.exams.append(new_exam(patient, source.ref, planned))
    session.flush()
    store_answer(patient, evaluate(protocol, patient_history(patient), ctx.today, ctx.settings))
    store_controls(session, patient)
    return changes


def store_answer(patient: Patient, answer: Answer) -> None:
    """Write what the engine answered onto the patient and their stored exams."""
    stored: dict[tuple, PlannedExam] = {
        _stored(e).key: e
        for e in patient.exams
        if not (e.state == "cancelled" and e.cancel_reason != OWN_CANCEL)
    }
    for exam in answer.exams:
        row = stored.get(plan_key(exam.planned))
        if row is not None:
            _store_exam(row, exam)
    _store_status(patient, answer)
    for column, value in flag_columns(answer).items():
        setattr(patient, column, value)


def flag_columns(answer: Answer) -> dict:
    """The patient's stored flags and hold, as the engine answered them."""
    mdt = [f for f in answer.flags if f.flag == Flag.MDT_REVIEW]
    return {
        "mdt_review": bool(mdt),
        "mdt_reason": "; ".join(mdt_reason(f) for f in mdt) or None,
        "mdt_flagged_on": max((f.date for f in mdt if f.date), default=None),
        "hold_until": answer.hold_until,
        "lost_to_follow_up": any(f.flag == Flag.LOST_TO_FOLLOW_UP for f in answer.flags),
    }


def mdt_reason(flag: FlagAnswer) -> str:
    """A flag as stored: reason, exam, date and values ("cea_high cea 2026-06-25 7.2")."""
    parts = [str(flag.reason), flag.exam or "", flag.date.isoformat() if flag.date else ""]
    return " ".join(p for p in [*parts, *(f"{v:g}" for v in flag.values)] if p)


def _store_exam(row: PlannedExam, exam: ExamAnswer) -> None:
    """R8 v2: an exam done at its primary control takes that control's date and result."""
    partner = exam.planned.coordinated_with
    coordinated_done = bool(partner and partner.done)
    if row.coordinated_done != coordinated_done:
        # Set only when it changes: an exam set at all is flushed, column by column, at every
        # replan of the patient (most of a verb's flush, the demo's profile showed).
        row.coordinated_done = coordinated_done
    by_partner = exam.state == ExamState.DONE and exam.record is None
    if by_partner and not (
        row.state == "done" and row.result_from_control and row.done_date == exam.done_on
    ):
        row.state, row.done_date, row.result_from_control = "done", exam.done_on, True
        row.result, row.result_value = _split(exam.result)
        row.sequence += 1
    elif row.result_from_control and not by_partner:
        row.state, row.done_date, row.result_from_control = "open", None, False
        row.result = row.result_value = None
        row.sequence += 1


def _split(result) -> tuple[str | None, float | None]:
    return (result, None) if isinstance(result, str) else (None, result)


def _store_status(patient: Patient, answer: Answer) -> None:
    if answer.status == Status.ENDED:
        reason = answer.status_reason.value if answer.status_reason else "not_candidate"
        if patient.status != reason:
            patient.status = reason
            patient.status_reason = _ending_treatment(patient) if reason == "transplanted" else None
        return
    if patient.status == "transplanted":
        patient.status_reason = None  # a new anchor after the transplant: a new plan
    patient.status = (answer.status or Status.ACTIVE).value


def _ending_treatment(patient: Patient) -> str | None:
    treatments = [t for t in patient.treatments if t.voided_at is None]
    return ending_treatment(load_protocol(patient.protocol), treatments)


def ending_treatment(protocol: Protocol, treatments: Iterable) -> str | None:
    """The treatment that ended surveillance, as stored beside the status ("transplant 2025-06-01")."""
    found = [t for t in treatments if t.kind in protocol.ending_kinds]
    last = max(found, key=lambda t: t.date, default=None)
    return f"{last.kind} {last.date.isoformat()}" if last else None


def anchor_id(plan: Plan) -> int:
    """The stored id of the treatment a plan with exams is anchored on."""
    anchor = plan.anchor
    assert anchor is not None and anchor.ref is not None, "a plan with exams has a stored anchor"
    return anchor.ref


def new_exam(patient: Patient, anchor_id: int, planned) -> PlannedExam:
    """A stored exam for one exam of a plan."""
    partner = planned.coordinated_with
    return PlannedExam(
        uid=str(uuid.uuid4()),
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        anchor_treatment_id=anchor_id,
        code=planned.code,
        month=planned.month,
        due=planned.due,
        due_working_day=planned.due_working_day,
        state="open",
        coordinated_with_id=partner.ref if partner else None,
        coordinated_date=partner.date if partner else None,
    )


def _stored(exam: PlannedExam) -> StoredExam:
    # An exam done only through its partner is open as far as re-planning is concerned.
    state = "open" if exam.result_from_control else exam.state
    return StoredExam(
        exam.id,
        exam.anchor_treatment_id,
        exam.code,
        exam.month,
        exam.due,
        exam.due_working_day,
        state,
        exam.coordinated_with_id,
        exam.cancel_reason,
    )


def _cancel(exam: PlannedExam, reason: str) -> None:
    exam.booking_to_cancel = exam.state == "booked"
    if exam.result_from_control:  # the partner's result stays the partner's
        exam.done_date = exam.result = exam.result_value = None
        exam.result_from_control = False
    exam.state, exam.cancel_reason = "cancelled", reason
    exam.sequence += 1


def _update(exam: PlannedExam, planned) -> None:
    if exam.state == "cancelled":
        _reopen(exam)
    exam.due, exam.due_working_day = planned.due, planned.due_working_day
    if exam.state == "open" or exam.result_from_control:
        partner = planned.coordinated_with
        exam.coordinated_with_id = partner.ref if partner else None
        exam.coordinated_date = partner.date if partner else None
    exam.sequence += 1


def _reopen(exam: PlannedExam) -> None:
    """The plan came back: a booking nobody has cancelled yet holds again; else book anew."""
    exam.cancel_reason = None
    if exam.booking_to_cancel:
        exam.state, exam.booking_to_cancel = "booked", False
    else:
        exam.state = "open"
        exam.booked_date = exam.booked_time = exam.booked_place = None
