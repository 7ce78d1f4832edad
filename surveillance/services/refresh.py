"""The daily recomputation: answers that change with the date alone (R13 lapse, R14)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import OPEN_EXAM, Patient, PlannedExam
from .audit import record_event
from .context import Context
from .plans import replan
from .transactions import transaction


def patients_to_refresh(session: Session, ctx: Context, clinic_ids: list[int] | None = None):
    """Patients whose stored answer may be stale today: a hold lapsed, a control overdue, or lost.

    A lost-to-follow-up flag can clear with the date alone (R14: a later control, done in
    time, becomes one of the two latest due before T - 30), so flagged patients are rechecked.
    """
    late = ctx.today - timedelta(days=ctx.settings.overdue_after_days)
    overdue = (
        sa.select(PlannedExam.id)
        .where(PlannedExam.patient_id == Patient.id, OPEN_EXAM, PlannedExam.due < late)
        .exists()
    )
    query = sa.select(Patient.id).where(
        sa.or_(Patient.hold_until <= ctx.today, Patient.lost_to_follow_up, overdue)
    )
    if clinic_ids is not None:
        query = query.where(Patient.clinic_id.in_(clinic_ids))
    return list(session.scalars(query.order_by(Patient.id)))


def refresh_patients(session: Session, ctx: Context, clinic_ids: list[int] | None = None) -> int:
    """Store today's answer for every patient it may have changed for; how many changed."""
    changed = 0
    for patient_id in patients_to_refresh(session, ctx, clinic_ids):
        with transaction(session):
            patient = session.get(Patient, patient_id)
            assert patient is not None  # listed just now, and patients are never deleted
            before = (patient.status, patient.mdt_review, patient.lost_to_follow_up)
            replan(session, patient, ctx)
            after = (patient.status, patient.mdt_review, patient.lost_to_follow_up)
            if after != before:
                changed += 1
                record_event(
                    session,
                    ctx.actor,
                    "patient.refresh",
                    patient.id,
                    status=patient.status,
                    mdt_review=patient.mdt_review,
                    lost_to_follow_up=patient.lost_to_follow_up,
                )
    return changed
