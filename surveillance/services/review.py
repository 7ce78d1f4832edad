"""The lists beside the worklist: MDT review, bookings to cancel, and patient search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import MdtDecision, Patient, PlannedExam
from .context import Context


@dataclass(frozen=True, slots=True)
class PatientRow:
    """A patient in a list: reference, name, birth date, status and why they are listed."""

    patient_id: int
    reference: str
    name: str
    birth_date: date
    status: str
    reason: str | None
    flagged_on: date | None = None  # the MDT list: the day of the newest flag
    last_decision: str | None = None  # and the note of the latest MDT decision
    version: int | None = None  # and the patient's version, for the decision's form


@dataclass(frozen=True, slots=True)
class CancelRow:
    """An appointment a re-plan made unnecessary: the nurse must cancel it."""

    exam_id: int
    patient_id: int
    reference: str
    name: str
    code: str
    booked_date: date | None
    version: int
    birth_date: date


_PATIENT_COLUMNS = (
    Patient.id,
    Patient.local_number,
    Patient.name,
    Patient.birth_date,
    Patient.status,
)
# The note of a patient's latest MDT decision still standing (a few rows per patient).
_LAST_NOTE = (
    sa.select(MdtDecision.note)
    .where(MdtDecision.patient_id == Patient.id, MdtDecision.withdrawn_at.is_(None))
    .order_by(MdtDecision.date.desc(), MdtDecision.id.desc())
    .limit(1)
    .correlate(Patient)
    .scalar_subquery()
    .label("last_note")
)


def mdt_review(
    session: Session, ctx: Context, clinic_ids: list[int], *, limit: int = 50, offset: int = 0
) -> list[PatientRow]:
    """Patients waiting for an MDT decision (R9), the newest flag first, a page of them."""
    rows = session.execute(
        sa.select(
            *_PATIENT_COLUMNS,
            Patient.mdt_reason,
            Patient.mdt_flagged_on,
            Patient.version,
            _LAST_NOTE,
        )
        .where(Patient.clinic_id.in_(clinic_ids), sa.text("mdt_review"))
        .order_by(Patient.mdt_flagged_on.desc().nulls_last(), Patient.local_number)
        .limit(limit)
        .offset(offset)
    )
    return [
        PatientRow(
            r.id,
            ctx.reference(r.local_number),
            r.name,
            r.birth_date,
            r.status,
            r.mdt_reason,
            r.mdt_flagged_on,
            r.last_note or None,
            r.version,
        )
        for r in rows
    ]


def lost_to_follow_up(
    session: Session, ctx: Context, clinic_ids: list[int], *, limit: int = 50, offset: int = 0
) -> list[PatientRow]:
    """Patients whose two latest controls are both overdue (R14), a page of them."""
    rows = session.execute(
        sa.select(*_PATIENT_COLUMNS)
        .where(Patient.clinic_id.in_(clinic_ids), sa.text("lost_to_follow_up"))
        .order_by(Patient.local_number)
        .limit(limit)
        .offset(offset)
    )
    return [
        PatientRow(r.id, ctx.reference(r.local_number), r.name, r.birth_date, r.status, None)
        for r in rows
    ]


def bookings_to_cancel(
    session: Session, ctx: Context, clinic_ids: list[int], *, limit: int = 50, offset: int = 0
) -> list[CancelRow]:
    """Booked exams that a re-plan or an end of surveillance cancelled, a page of them."""
    rows = session.execute(
        sa.select(
            PlannedExam.id,
            PlannedExam.patient_id,
            Patient.local_number,
            Patient.name,
            PlannedExam.code,
            PlannedExam.booked_date,
            PlannedExam.version,
            Patient.birth_date,
        )
        .join(Patient, Patient.id == PlannedExam.patient_id)
        .where(PlannedExam.clinic_id.in_(clinic_ids), sa.text("booking_to_cancel"))
        .order_by(PlannedExam.booked_date, Patient.local_number, PlannedExam.code)
        .limit(limit)
        .offset(offset)
    )
    return [
        CancelRow(
            r.id,
            r.patient_id,
            ctx.reference(r.local_number),
            r.name,
            r.code,
            r.booked_date,
            r.version,
            r.birth_date,
        )
        for r in rows
    ]


def search_patients(
    session: Session, ctx: Context, clinic_ids: list[int], text: str, limit: int = 50
) -> list[PatientRow]:
    """Patients whose name, local reference or national ID matches `text`."""
    text = text.strip()
    digits = text.removeprefix(ctx.reference_prefix).replace(" ", "")
    conditions = [Patient.name_key.contains(text.casefold(), autoescape=True)]
    if digits.isdigit():
        conditions.append(Patient.national_id == digits)
        if len(digits) <= 9:
            conditions.append(Patient.local_number == int(digits))
    rows = session.execute(
        sa.select(*_PATIENT_COLUMNS, Patient.status_reason)
        .where(Patient.clinic_id.in_(clinic_ids), sa.or_(*conditions))
        .order_by(Patient.name, Patient.local_number)
        .limit(limit)
    )
    return [
        PatientRow(
            r.id, ctx.reference(r.local_number), r.name, r.birth_date, r.status, r.status_reason
        )
        for r in rows
    ]
