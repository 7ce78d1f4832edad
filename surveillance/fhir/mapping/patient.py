"""Patient: national ID (fødselsnummer or D-number), the local P-nnnn reference, name, birth."""

from __future__ import annotations

from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.patient import Patient as FhirPatient

from ...db.models import Patient
from ...services.patients import END_STATUSES
from ..codes import EXT_SURVEILLANCE_END, Site, national_id_system


def patient_resource(patient: Patient, site: Site) -> FhirPatient:
    """The patient as FHIR sees them; `active` while under surveillance."""
    return FhirPatient.model_validate(
        {
            "id": str(patient.id),
            "identifier": [
                Identifier(
                    use="official",
                    system=national_id_system(patient.national_id),
                    value=patient.national_id,
                ),
                Identifier(
                    use="usual",
                    system=site.local_reference_system,
                    value=site.reference(patient.local_number),
                ),
            ],
            "active": patient.status == "active",
            "name": [HumanName(use="official", text=patient.name, **_parts(patient.name))],
            "birthDate": patient.birth_date,
            "extension": _surveillance_end(patient) or None,
        }
        | _contact(patient)
    )


def _contact(patient: Patient) -> dict:
    """Telephone and GP when known (the GP as a name only: no practitioner register here)."""
    contact: dict = {}
    if patient.phone:
        contact["telecom"] = [{"system": "phone", "value": f"+47{patient.phone}"}]
    if patient.gp:
        contact["generalPractitioner"] = [{"display": patient.gp}]
    return contact


def _surveillance_end(patient: Patient) -> list[dict]:
    """The end of surveillance and its reason, so that an import keeps the patient ended."""
    if patient.status not in END_STATUSES:
        return []
    parts = [{"url": "status", "valueCode": patient.status}]
    if patient.status_reason:
        parts.append({"url": "reason", "valueString": patient.status_reason})
    return [{"url": EXT_SURVEILLANCE_END, "extension": parts}]


def surveillance_end(patient: FhirPatient) -> tuple[str, str]:
    """(status, reason) of an ended patient's extension, read back (import); empty if none."""
    for extension in patient.extension or []:
        if extension.url == EXT_SURVEILLANCE_END:
            parts = {
                part.url: part.valueCode or part.valueString for part in extension.extension or []
            }
            return parts.get("status") or "", parts.get("reason") or ""
    return "", ""


def _parts(name: str) -> dict:
    """Family name last, as Norwegian names are written ("Kari Nordmann")."""
    *given, family = name.split()
    return {"family": family, "given": given} if given else {"family": family}
