"""A patient's record as FHIR resources, read within one clinic (the token's)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import sqlalchemy as sa
from fhir.resources.R4B.resource import Resource
from sqlalchemy.orm import Session, selectinload

from ..db.models import LiverTreatment, Patient, PlannedExam
from .codes import D_NUMBER, FODSELSNUMMER, Site
from .mapping.care_plan import care_plan_resource
from .mapping.flag import FLAGS, flag_id, flag_resource, raised_flags
from .mapping.observation import has_result, observation_resource
from .mapping.patient import patient_resource
from .mapping.procedure import procedure_resource
from .mapping.service_request import service_request_resource

LARGEST_ID = 2**31 - 1
# The resource types served, in the order $everything lists them.
RESOURCE_TYPES = ("Patient", "Procedure", "CarePlan", "ServiceRequest", "Observation", "Flag")


def load_patient(session: Session, clinic_id: int, patient_id: int) -> Patient | None:
    """A patient of the clinic with everything the resources show; None for anyone else's."""
    return session.scalar(
        sa.select(Patient)
        .where(Patient.id == patient_id, Patient.clinic_id == clinic_id)
        .options(selectinload(Patient.treatments), selectinload(Patient.exams))
    )


def patient_record(patient: Patient, site: Site) -> Iterator[Resource]:
    """Every resource of a patient: the patient, treatments, plans, exams, results, flags."""
    yield patient_resource(patient, site)
    yield from (procedure_resource(t) for t in patient.treatments)
    yield from _care_plans(patient)
    yield from (service_request_resource(e) for e in patient.exams)
    yield from (observation_resource(e, site) for e in patient.exams if has_result(e))
    yield from (flag_resource(patient, code) for code in raised_flags(patient))


def _care_plans(patient: Patient) -> Iterator[Resource]:
    by_anchor: dict[int, list[PlannedExam]] = defaultdict(list)
    for exam in patient.exams:
        by_anchor[exam.anchor_treatment_id].append(exam)
    anchors = {t.id: t for t in patient.treatments}
    order = sorted(by_anchor, key=lambda i: (anchors[i].date, i))
    for anchor_id in order:
        latest = anchor_id == order[-1]
        yield care_plan_resource(patient, anchors[anchor_id], by_anchor[anchor_id], latest)


def owner_of(session: Session, resource_type: str, resource_id: str) -> int | None:
    """The id of the patient a resource belongs to (any clinic), or None."""
    if resource_type == "Flag":
        return _flag_owner(resource_id)
    if not _row_id(resource_id):
        return None
    number = int(resource_id)
    if resource_type == "Patient":
        return number
    model = LiverTreatment if resource_type in ("Procedure", "CarePlan") else PlannedExam
    return session.scalar(sa.select(model.patient_id).where(model.id == number))


def _flag_owner(resource_id: str) -> int | None:
    for code in FLAGS:
        prefix = flag_id(code, 0)[:-1]
        if resource_id.startswith(prefix) and _row_id(resource_id[len(prefix) :]):
            return int(resource_id[len(prefix) :])
    return None


def _row_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < int(text) <= LARGEST_ID


def find_resource(
    session: Session, clinic_id: int, site: Site, resource_type: str, resource_id: str
) -> tuple[Resource, int] | None:
    """One resource of the clinic and its patient's id; None if absent or another clinic's."""
    owner = owner_of(session, resource_type, resource_id)
    patient = load_patient(session, clinic_id, owner) if owner else None
    if patient is None:
        return None
    for resource in patient_record(patient, site):
        if resource.get_resource_type() == resource_type and resource.id == resource_id:
            return resource, patient.id
    return None


def find_by_identifier(session: Session, clinic_id: int, site: Site, token: str) -> list[Patient]:
    """Patients of the clinic by `system|value`, `|value` or `value` (national ID or P-nnnn)."""
    system, bar, value = token.partition("|")
    if not bar:
        system, value = "", token
    query = sa.select(Patient).where(Patient.clinic_id == clinic_id)
    return list(session.scalars(query.where(_identifier_matches(site, system, value.strip()))))


def _identifier_matches(site: Site, system: str, value: str):
    national = Patient.national_id == value
    if system in (FODSELSNUMMER, D_NUMBER):
        return national
    digits = value.rpartition("-")[2]
    local = Patient.local_number == int(digits) if _row_id(digits) else sa.false()
    if system == "":
        return sa.or_(national, local)
    if system == site.local_reference_system:
        return local
    return sa.false()
