"""Finding a clinic or a patient: the lookups every verb starts from, refused if not found."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import Clinic, Patient
from ..errors import Conflict, InputError, NotFound
from .context import Context


def clinic_by_code(session: Session, code: str) -> Clinic:
    """The clinic with this code."""
    clinic = session.scalar(sa.select(Clinic).where(Clinic.code == code))
    if clinic is None:
        raise InputError("clinic", code, "is not a known clinic code")
    return clinic


def get_patient(
    session: Session,
    patient_id: int,
    clinic_ids: AbstractSet[int] | None = None,
    expected_version: int | None = None,
) -> Patient:
    """A patient by id, within the given clinics; a stale `expected_version` is refused."""
    patient = session.get(Patient, patient_id)
    if patient is None or (clinic_ids is not None and patient.clinic_id not in clinic_ids):
        raise NotFound(f"patient {patient_id} not found")
    if expected_version is not None and patient.version != expected_version:
        raise Conflict("The patient was changed by someone else. Reload the page and try again.")
    return patient


def find_by_reference(
    session: Session, ctx: Context, reference: str, clinic_ids: AbstractSet[int] | None = None
) -> Patient:
    """A patient by local reference ("P-0042", or just 42)."""
    digits = reference.strip().removeprefix(ctx.reference_prefix)
    if not digits.isdigit() or len(digits) > 9:  # more would overflow the column
        raise InputError(
            "reference",
            reference,
            "is not a local reference like %(example)s",
            example=ctx.reference(42),
        )
    patient_id = session.scalar(sa.select(Patient.id).where(Patient.local_number == int(digits)))
    if patient_id is None:
        raise NotFound(f"no patient with reference {reference}")
    return get_patient(session, patient_id, clinic_ids)
