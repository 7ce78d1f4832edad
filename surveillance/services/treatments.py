"""Liver treatments and primary-tumour controls: every change re-plans (R2, R6, R8)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from ..clock import utcnow
from ..db.models import LiverTreatment, Patient
from ..errors import NotFound
from ..protocol import Changes, load_protocol
from ..protocol.vocabulary import TREATMENT_KINDS
from .audit import record_event
from .context import Context
from .lookups import get_patient
from .plans import replan
from .transactions import transaction
from .validate import (
    birth_date_check,
    check_not_future,
    parse_choice,
    parse_date,
    parse_text,
)


def record_treatment(
    session: Session,
    ctx: Context,
    patient_id: int,
    *,
    date: date | str | None,
    kind: str | None,
    note: str | None = None,
    expected_version: int | None = None,
) -> Changes:
    """Record a liver treatment; a new anchor supersedes the open exams of the old plan."""
    with transaction(session):
        patient = get_patient(session, patient_id, ctx.clinic_ids, expected_version)
        return add_treatment(session, ctx, patient, date=date, kind=kind, note=note)


def add_treatment(
    session: Session,
    ctx: Context,
    patient: Patient,
    *,
    date: date | str | None,
    kind: str | None,
    note: str | None = None,
) -> Changes:
    """record_treatment inside the caller's transaction (registration with a first treatment)."""
    treatment = LiverTreatment(
        kind=parse_choice("kind", kind, TREATMENT_KINDS),
        date=_treatment_date(date, patient, ctx),
        note=parse_text("note", note, max_length=2000, required=False),
    )
    patient.treatments.append(treatment)
    patient.updated_at = utcnow()  # bumps the version: stale forms of the patient reload
    _apply_decision(patient, treatment)
    changes = replan(session, patient, ctx)
    record_event(
        session,
        ctx.actor,
        "treatment.record",
        patient.id,
        treatment=treatment.id,
        **_summary(changes),
    )
    return changes


def correct_treatment(
    session: Session,
    ctx: Context,
    treatment_id: int,
    *,
    date: date | str | None = None,
    kind: str | None = None,
    expected_version: int | None = None,
) -> Changes:
    """Correct a treatment's date or kind; the plan is recomputed under the same rules."""
    with transaction(session):
        treatment = _treatment(session, ctx, treatment_id, expected_version)
        patient = treatment.patient
        before = {"date": treatment.date.isoformat(), "kind": treatment.kind}
        if date is not None:
            treatment.date = _treatment_date(date, patient, ctx)
        if kind is not None:
            treatment.kind = parse_choice("kind", kind, TREATMENT_KINDS)
        if _decides(patient, treatment):  # a correction is no MDT decision: the flag stays
            _end_if_transplant(patient, treatment)
        patient.updated_at = utcnow()  # bumps the version: stale forms of the patient reload
        changes = replan(session, patient, ctx)
        record_event(
            session,
            ctx.actor,
            "treatment.correct",
            patient.id,
            treatment=treatment.id,
            before=before,
            **_summary(changes),
        )
    return changes


def delete_treatment(
    session: Session, ctx: Context, treatment_id: int, *, expected_version: int | None = None
) -> Changes:
    """Void a treatment entered by mistake; exams planned from it keep their history."""
    with transaction(session):
        treatment = _treatment(session, ctx, treatment_id, expected_version)
        treatment.voided_at = utcnow()
        patient = treatment.patient
        patient.updated_at = utcnow()
        changes = replan(session, patient, ctx)
        record_event(
            session,
            ctx.actor,
            "treatment.delete",
            patient.id,
            treatment=treatment.id,
            **_summary(changes),
        )
    return changes


def _treatment(
    session: Session, ctx: Context, treatment_id: int, expected_version: int | None
) -> LiverTreatment:
    treatment = session.get(LiverTreatment, treatment_id)
    if treatment is None or treatment.voided_at is not None:
        raise NotFound(f"treatment {treatment_id} not found")
    get_patient(session, treatment.patient_id, ctx.clinic_ids, expected_version)
    return treatment


def _treatment_date(value, patient: Patient, ctx: Context) -> date:
    day = check_not_future("date", parse_date("date", value), ctx.today)
    return birth_date_check("date", day, patient)


def _apply_decision(patient: Patient, treatment: LiverTreatment) -> None:
    """R1 and R9: a new anchor is the MDT's decision; a transplant ends surveillance."""
    if _decides(patient, treatment):
        patient.mdt_review, patient.mdt_reason = False, None
        _end_if_transplant(patient, treatment)


def _decides(patient: Patient, treatment: LiverTreatment) -> bool:
    """The treatment anchors or ends surveillance, and no later one does."""
    protocol = load_protocol(patient.protocol)
    decisive = set(protocol.anchoring_kinds) | protocol.ending_kinds
    # An older treatment is history: it changes nothing (R6).
    return treatment.kind in decisive and not any(
        t.date > treatment.date
        for t in patient.treatments
        if t is not treatment and t.voided_at is None and t.kind in decisive
    )


def _end_if_transplant(patient: Patient, treatment: LiverTreatment) -> None:
    if treatment.kind in load_protocol(patient.protocol).ending_kinds:
        patient.status = "transplanted"
        patient.status_reason = f"{treatment.kind} {treatment.date.isoformat()}"


def _summary(changes: Changes) -> dict:
    return {
        "created": len(changes.create),
        "cancelled": len(changes.cancel),
        "updated": len(changes.update),
    }
