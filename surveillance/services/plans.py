"""Keeping a patient's stored plan equal to what the protocol says (R1, R6-R8)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from ..db.models import Patient, PlannedExam
from ..protocol import (
    Changes,
    History,
    PrimaryControl,
    StoredExam,
    Treatment,
    load_protocol,
    make_plan,
    reconcile,
)
from .context import Context

CANDIDATE_STATUSES = frozenset({"active", "completed"})


def patient_history(patient: Patient) -> History:
    """The protocol engine's view of a patient's records (voided treatments left out)."""
    return History(
        treatments=tuple(
            Treatment(t.date, t.kind, t.id) for t in patient.treatments if t.voided_at is None
        ),
        primary_controls=tuple(
            PrimaryControl(c.date, c.exam_codes, c.id) for c in patient.primary_controls
        ),
        candidate=patient.status in CANDIDATE_STATUSES,
    )


def replan(session: Session, patient: Patient, ctx: Context) -> Changes:
    """Bring the stored exams in line with the protocol; done and missed exams stay as they are."""
    session.flush()  # new treatments and controls need their ids as references
    plan = make_plan(load_protocol(patient.protocol), patient_history(patient), ctx.settings)
    by_ref = {e.id: e for e in patient.exams}
    changes = reconcile([_stored(e) for e in patient.exams], plan)
    reason = "superseded" if patient.status in CANDIDATE_STATUSES else patient.status
    for stored in changes.cancel:
        _cancel(by_ref[stored.ref], reason)
    for stored, planned in changes.update:
        _update(by_ref[stored.ref], planned)
    for planned in changes.create:
        patient.exams.append(new_exam(patient, planned.source.ref, planned))
    _update_completion(patient, plan.anchor)
    return changes


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
    return StoredExam(
        exam.id,
        exam.anchor_treatment_id,
        exam.code,
        exam.month,
        exam.due,
        exam.due_working_day,
        exam.state,
        exam.coordinated_with_id,
        exam.cancel_reason,
    )


def _cancel(exam: PlannedExam, reason: str) -> None:
    exam.booking_to_cancel = exam.state == "booked"
    exam.state, exam.cancel_reason = "cancelled", reason
    exam.sequence += 1


def _update(exam: PlannedExam, planned) -> None:
    if exam.state == "cancelled":
        _reopen(exam)
    exam.due, exam.due_working_day = planned.due, planned.due_working_day
    if exam.state == "open":
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


def _update_completion(patient: Patient, anchor: Treatment | None) -> None:
    """R7: surveillance is completed once the last control of the current plan is closed."""
    if patient.status not in CANDIDATE_STATUSES or anchor is None:
        return
    plan_exams = [e for e in patient.exams if e.anchor_treatment_id == anchor.ref]
    last_month = max(e.month for e in plan_exams)
    finished = all(e.state in ("done", "cancelled") for e in plan_exams if e.month == last_month)
    patient.status = "completed" if finished else "active"
