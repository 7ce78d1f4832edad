"""FHIR transaction Bundles of Patient + Procedure: written by the export, read by the import.

The import turns a Bundle into the CSV import's table (one row per Patient), so it passes
the same checks and the same dry run as a CSV file.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.procedure import Procedure
from pydantic import ValidationError

from ..db.models import Patient
from ..services.imports import N_, BadFile, Table, read_table
from .codes import D_NUMBER, FODSELSNUMMER, SNOMED, Site
from .mapping.patient import patient_resource, surveillance_end
from .mapping.procedure import SNOMED_CODES, kind_of, procedure_resource

# The table's columns, as a Bundle "names" them in the preview.
COLUMNS = {
    "national_id": "Patient.identifier",
    "name": "Patient.name",
    "treatment_date": "Procedure.performedDateTime",
    "treatment_kind": "Procedure.code",
    "more_treatments": "Procedure (earlier)",
    "ended": "Patient.extension:surveillance-end.status",
    "end_reason": "Patient.extension:surveillance-end.reason",
}
_KIND_BY_SNOMED = {code: kind for kind, (code, _name) in SNOMED_CODES.items()}


def transaction_bundle(patients: Iterable[Patient], site: Site) -> Bundle:
    """Patients and their treatments (deleted ones left out) as one transaction Bundle."""
    entries = []
    for patient in patients:
        full_url = f"urn:uuid:{uuid.uuid4()}"
        entries.append(_entry(full_url, patient_resource(patient, site)))
        for treatment in patient.treatments:
            if treatment.voided_at is None:
                procedure = procedure_resource(treatment)
                procedure.id, procedure.subject.reference = None, full_url
                entries.append(_entry(f"urn:uuid:{uuid.uuid4()}", procedure))
    return Bundle.model_validate({"type": "transaction", "entry": entries})


def _entry(full_url: str, resource) -> dict:
    kind = resource.get_resource_type()
    resource.id = None  # the receiving server names it
    return {"fullUrl": full_url, "resource": resource, "request": {"method": "POST", "url": kind}}


def looks_like_json(data: bytes) -> bool:
    """A JSON document (a Bundle) rather than a CSV file."""
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def reader_for(data: bytes) -> Callable[[bytes], Table]:
    """The import's reader of this file: a FHIR Bundle or a CSV table."""
    return read_bundle if looks_like_json(data) else read_table


def read_bundle(data: bytes) -> Table:
    """The Bundle's patients as the CSV import's rows (numbered by their entry, from 1)."""
    bundle = _parse(data)
    patients, procedures = _entries(bundle)
    if not patients:
        raise BadFile(N_("The Bundle has no Patient entries."))
    rows = []
    for number, (key, patient) in patients.items():
        cells = _patient_cells(patient) | _treatment_cells(procedures.pop(key, []))
        rows.append((number, cells, 0))
    if procedures:
        raise BadFile(
            N_("A Procedure's subject is not a Patient of the Bundle: %(subject)s"),
            subject=next(iter(procedures)),
        )
    return Table(dict(COLUMNS), (), tuple(rows))


def _parse(data: bytes) -> Bundle:
    try:
        bundle = Bundle.model_validate(json.loads(data.decode("utf-8-sig")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadFile(N_("The file is not JSON: %(detail)s"), detail=str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadFile(
            N_("The file is not a valid FHIR Bundle: %(detail)s"), detail=f"{where}: {first['msg']}"
        ) from None
    if bundle.type != "transaction":
        raise BadFile(
            N_("The Bundle's type is %(type)s: a transaction Bundle is expected."),
            type=bundle.type,
        )
    return bundle


def _entries(bundle: Bundle) -> tuple[dict, dict[str, list[Procedure]]]:
    """Patients by entry number (with the keys a Procedure may use), Procedures by subject."""
    patients: dict[int, tuple[str, FhirPatient]] = {}
    keys: dict[str, str] = {}
    procedures: dict[str, list[Procedure]] = defaultdict(list)
    for number, entry in enumerate(bundle.entry or [], start=1):
        resource = entry.resource
        if isinstance(resource, FhirPatient):
            key = entry.fullUrl or f"Patient/{resource.id}"
            patients[number] = (key, resource)
            keys[key] = keys[f"Patient/{resource.id}"] = key
        elif isinstance(resource, Procedure):
            procedures[resource.subject.reference or ""].append(resource)
        else:
            raise BadFile(
                N_("Entry %(entry)d is a %(type)s: only Patient and Procedure are imported."),
                entry=number,
                type=resource.get_resource_type() if resource else "-",
            )
    by_patient: dict[str, list[Procedure]] = defaultdict(list)
    for subject, found in procedures.items():
        by_patient[keys.get(subject, subject)].extend(found)
    return patients, dict(by_patient)


def _patient_cells(patient: FhirPatient) -> dict[str, str]:
    numbers = [
        i.value or "" for i in patient.identifier or [] if i.system in (FODSELSNUMMER, D_NUMBER)
    ]
    ended, reason = surveillance_end(patient)
    return {
        "national_id": numbers[0] if numbers else "",
        "name": _name(patient),
        "ended": ended,
        "end_reason": reason,
    }


def _name(patient: FhirPatient) -> str:
    for name in patient.name or []:
        if name.text:
            return name.text
        parts = [*(name.given or []), name.family or ""]
        if any(parts):
            return " ".join(p for p in parts if p)
    return ""


def _treatment_cells(procedures: list[Procedure]) -> dict[str, str]:
    """The latest treatment in the row's own cells, the others as "date kind; ..."."""
    done = sorted(
        ((_performed(p), _kind(p)) for p in procedures if p.status != "entered-in-error"),
        reverse=True,
    )
    if not done:
        return {"treatment_date": "", "treatment_kind": "", "more_treatments": ""}
    (day, kind), earlier = done[0], done[1:]
    return {
        "treatment_date": day,
        "treatment_kind": kind,
        "more_treatments": "; ".join(f"{d} {k}" for d, k in earlier),
    }


def _performed(procedure: Procedure) -> str:
    when = procedure.performedDateTime or (
        procedure.performedPeriod.start if procedure.performedPeriod else None
    )
    return str(when)[:10] if when else ""


def _kind(procedure: Procedure) -> str:
    """Our kind code, else the SNOMED concept's kind, else the code's text (a word we know)."""
    if kind := kind_of(procedure):
        return kind
    for c in procedure.code.coding or [] if procedure.code else []:
        if c.system == SNOMED and c.code in _KIND_BY_SNOMED:
            return _KIND_BY_SNOMED[c.code]
    return (procedure.code.text or "") if procedure.code else ""
