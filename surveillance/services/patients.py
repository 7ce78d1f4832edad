"""Patients: register, find, end or resume surveillance, MDT decisions (R1, R9)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import MdtDecision, Patient
from ..errors import InputError
from .audit import record_event
from .context import Context
from .control_rows import rename_controls
from .lookups import clinic_by_code, get_patient
from .name_index import index_name
from .new_patient import check_identity, check_name, check_protocol, refuse_registered
from .plans import replan
from .transactions import transaction
from .treatments import add_treatment
from .validate import parse_choice, parse_phone, parse_text

END_STATUSES = ("not_candidate", "deceased", "moved", "transplanted")
MDT_DECISIONS = ("no_recurrence",)


def register_patient(
    session: Session,
    ctx: Context,
    *,
    clinic_code: str,
    national_id: str,
    name: str,
    protocol: str | None = None,
    treatment_date: date | str | None = None,
    treatment_kind: str | None = None,
    phone: str | None = None,
    gp: str | None = None,
) -> Patient:
    """Register a patient in a clinic, with their latest liver treatment if given (one transaction)."""
    with transaction(session):
        clinic = clinic_by_code(session, clinic_code)
        if ctx.clinic_ids is not None and clinic.id not in ctx.clinic_ids:
            raise InputError("clinic", clinic_code, "is not one of your clinics")
        number, birth = check_identity(ctx, national_id)
        name = check_name(name)
        protocol = check_protocol(ctx, protocol)
        refuse_registered(session, [number])
        patient = Patient(
            clinic_id=clinic.id,
            local_number=next_local_number(session),
            national_id=number,
            name=name,
            birth_date=birth,
            protocol=protocol,
            status="active",
            phone=parse_phone("phone", phone),
            gp=parse_text("gp", gp, max_length=200, required=False),
        )
        session.add(patient)
        session.flush()
        index_name(session, patient)
        record_event(session, ctx.actor, "patient.register", patient.id, clinic=clinic.code)
        if treatment_date is not None or treatment_kind is not None:
            add_treatment(session, ctx, patient, date=treatment_date, kind=treatment_kind)
    return patient


def update_contact(
    session: Session,
    ctx: Context,
    patient_id: int,
    *,
    phone: str | None,
    gp: str | None,
    expected_version: int | None = None,
) -> Patient:
    """Change the patient's telephone and GP; the old and new values are audited."""
    with transaction(session):
        patient = get_patient(session, patient_id, ctx.clinic_ids, expected_version)
        before = {"phone": patient.phone, "gp": patient.gp}
        patient.phone = parse_phone("phone", phone)
        patient.gp = parse_text("gp", gp, max_length=200, required=False)
        after = {"phone": patient.phone, "gp": patient.gp}
        if after != before:
            record_event(
                session, ctx.actor, "patient.contact", patient.id, before=before, after=after
            )
    return patient


def correct_name(
    session: Session,
    ctx: Context,
    patient_id: int,
    name: str,
    *,
    expected_version: int | None = None,
) -> Patient:
    """Correct the patient's name (audited); the lists sorted by name follow at once."""
    with transaction(session):
        patient = get_patient(session, patient_id, ctx.clinic_ids, expected_version)
        name = check_name(name)
        if name != patient.name:
            record_event(session, ctx.actor, "patient.rename", patient.id)
            patient.name = name
            session.flush()
            rename_controls(session, patient)
            index_name(session, patient)
    return patient


def next_local_number(session: Session) -> int:
    """The next free number for a local reference (the write lock keeps it unique)."""
    return (session.scalar(sa.select(sa.func.max(Patient.local_number))) or 0) + 1


def end_surveillance(
    session: Session,
    ctx: Context,
    patient_id: int,
    *,
    status: str | None,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Patient:
    """R1: the patient leaves surveillance; open exams are cancelled, done ones stay."""
    with transaction(session):
        patient = get_patient(session, patient_id, ctx.clinic_ids, expected_version)
        patient.status = parse_choice("status", status, END_STATUSES)
        patient.status_reason = parse_text("reason", reason, max_length=2000, required=False)
        patient.mdt_review, patient.mdt_reason = False, None
        changes = replan(session, patient, ctx)
        record_event(
            session,
            ctx.actor,
            "patient.end",
            patient.id,
            status=status,
            cancelled=len(changes.cancel),
        )
    return patient


def resume_surveillance(
    session: Session,
    ctx: Context,
    patient_id: int,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Patient:
    """A patient becomes a candidate again; the plan of the current anchor comes back."""
    with transaction(session):
        patient = get_patient(session, patient_id, ctx.clinic_ids, expected_version)
        if patient.status not in END_STATUSES:
            raise InputError("status", patient.status, "is not an ended surveillance")
        patient.status = "active"
        patient.status_reason = parse_text("reason", reason, max_length=2000, required=False)
        changes = replan(session, patient, ctx)
        record_event(
            session,
            ctx.actor,
            "patient.resume",
            patient.id,
            reopened=len(changes.update),
            created=len(changes.create),
        )
    return patient


def record_mdt_decision(
    session: Session,
    ctx: Context,
    patient_id: int,
    *,
    decision: str | None,
    note: str | None = None,
    expected_version: int | None = None,
) -> Patient:
    """R9: "no recurrence" clears the MDT flag (a treatment or an end of surveillance also do)."""
    with transaction(session):
        patient = get_patient(session, patient_id, ctx.clinic_ids, expected_version)
        parse_choice("decision", decision, MDT_DECISIONS)
        if not patient.mdt_review:
            raise InputError(
                "decision", decision, "has nothing to decide: no MDT review is pending"
            )
        # Stored as a decision (R13), or the next recomputation would raise the flag again.
        patient.decisions.append(
            MdtDecision(
                date=ctx.today,
                decision=decision,
                note=parse_text("note", note, max_length=2000, required=False) or "",
                author=ctx.actor.name,
            )
        )
        replan(session, patient, ctx)
        record_event(
            session,
            ctx.actor,
            "patient.mdt_decision",
            patient.id,
            decision=decision,
            note=parse_text("note", note, max_length=2000, required=False),
        )
    return patient
