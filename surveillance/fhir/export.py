"""Bulk export of a clinic: one NDJSON file per resource type, pseudonymised on request.

Pseudonymised: no national ID, no name, no local reference, birth year only; each patient
gets a pseudonym that is stable within one export and unlinkable across exports (a keyed
hash under a random key that is never written down).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from sqlalchemy.orm import Session, selectinload

from ..db.models import Patient
from ..services.audit import Actor, record_event
from ..services.patients import clinic_by_code
from ..services.transactions import transaction
from .bundle import transaction_bundle
from .codes import OURS, Site
from .mapping.flag import flag_id
from .record import RESOURCE_TYPES, patient_record

CHUNK = 200  # patients loaded at a time, with their treatments and exams
PSEUDONYM_SYSTEM = f"{OURS}:sid:export-pseudonym"


class Pseudonyms:
    """Stable pseudonyms for one export, from a random key."""

    def __init__(self, key: bytes | None = None):
        self._key = key or secrets.token_bytes(32)

    def of(self, patient_id: int) -> str:
        """The patient's pseudonym in this export."""
        digest = hmac.new(self._key, str(patient_id).encode(), hashlib.sha256).hexdigest()
        return f"psn-{digest[:20]}"


def clinic_patients(session: Session, clinic_id: int) -> Iterator[Patient]:
    """The clinic's patients in id order, loaded a chunk at a time."""
    last = 0
    while True:
        chunk = session.scalars(
            sa.select(Patient)
            .where(Patient.clinic_id == clinic_id, Patient.id > last)
            .order_by(Patient.id)
            .limit(CHUNK)
            .options(selectinload(Patient.treatments), selectinload(Patient.exams))
        ).all()
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].id


def pseudonymised(resource: Resource, patient_id: int, pseudonyms: Pseudonyms) -> Resource:
    """The resource with the patient's identity replaced by the export's pseudonym."""
    pseudonym = pseudonyms.of(patient_id)
    data = resource.model_dump(mode="json", exclude_none=True)
    kind = data["resourceType"]
    if kind == "Patient":
        data |= {
            "id": pseudonym,
            "identifier": [{"system": PSEUDONYM_SYSTEM, "value": pseudonym}],
            "birthDate": data["birthDate"][:4],
        }
        for identifying in ("name", "telecom", "generalPractitioner"):
            data.pop(identifying, None)
        for extension in data.get("extension", []):  # the end's reason is free text
            parts = extension.get("extension", [])
            extension["extension"] = [p for p in parts if p.get("url") != "reason"]
    if "subject" in data:
        data["subject"] = {"reference": f"Patient/{pseudonym}"}
    if kind == "Flag":  # the id holds the patient's; the reason is free text
        code = data["code"]["coding"][0]
        data["id"] = flag_id(code["code"], 0)[:-1] + pseudonym
        data["code"] = {"coding": [code]}
    model: type[Resource] = get_fhir_model_class(kind)  # type: ignore[assignment]
    return model.model_validate(data)


def export_clinic(
    session: Session,
    actor: Actor,
    clinic_code: str,
    site: Site,
    folder: Path,
    pseudonymise: bool = False,
) -> dict[str, int]:
    """Write <Type>.ndjson for every served type into `folder`; return the lines per type."""
    clinic = clinic_by_code(session, clinic_code)
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        files = {
            kind: stack.enter_context(open(folder / f"{kind}.ndjson", "w", encoding="utf-8"))
            for kind in RESOURCE_TYPES
        }
        counts = write_ndjson(
            session, clinic.id, site, files, Pseudonyms() if pseudonymise else None
        )
    _audit(session, actor, clinic_code, counts, pseudonymise)
    return counts


def write_ndjson(
    session: Session,
    clinic_id: int,
    site: Site,
    outputs: Mapping[str, TextIO],
    pseudonyms: Pseudonyms | None = None,
    after_chunk: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """The clinic's resources of the types in `outputs`, one JSON line each; lines per type.

    The one writer of the command line's export and of the API's bulk `$export`;
    `after_chunk(patients so far)` is called after every CHUNK patients.
    """
    counts = dict.fromkeys(outputs, 0)
    for number, patient in enumerate(clinic_patients(session, clinic_id), start=1):
        for built in patient_record(patient, site):
            kind = built.get_resource_type()
            if kind not in outputs:
                continue
            resource = built if pseudonyms is None else pseudonymised(built, patient.id, pseudonyms)
            outputs[kind].write(resource.model_dump_json(exclude_none=True) + "\n")
            counts[kind] += 1
        if after_chunk is not None and number % CHUNK == 0:
            after_chunk(number)
    return counts


def export_bundle(session: Session, actor: Actor, clinic_code: str, site: Site, path: Path) -> int:
    """Write the clinic's patients and treatments as one transaction Bundle; return the count."""
    clinic = clinic_by_code(session, clinic_code)
    patients = list(clinic_patients(session, clinic.id))
    path.write_text(transaction_bundle(patients, site).model_dump_json(exclude_none=True), "utf-8")
    with transaction(session):
        record_event(
            session, actor, "fhir.export_bundle", clinic=clinic_code, patients=len(patients)
        )
    return len(patients)


def _audit(
    session: Session, actor: Actor, clinic_code: str, counts: dict[str, int], pseudonymised: bool
) -> None:
    with transaction(session):
        record_event(
            session,
            actor,
            "fhir.export",
            clinic=clinic_code,
            patients=counts["Patient"],
            pseudonymised=pseudonymised,
        )
