"""The codes the FHIR resources carry: SNOMED CT where confirmed, our kind code always, and
the FHIR version the models validate (pure: no database)."""

from __future__ import annotations

from datetime import date

import fhir.resources.R4B
import pytest

from surveillance.db.models import LiverTreatment
from surveillance.fhir.bundle import read_bundle
from surveillance.fhir.capability import FHIR_VERSION, capability_statement
from surveillance.fhir.codes import SNOMED, TREATMENT_KIND
from surveillance.fhir.mapping.procedure import procedure_resource
from tests.support.fhir import bundle, patient

# Hand-written on purpose (not read from SNOMED_CODES): each row is the concept and term that
# two published sources agree on (procedure.py cites them); a changed mapping fails here.
SNOMED_BY_KIND = {
    "resection": ("107963000", "Excision of liver"),
    "ablation": ("5415002", "Destruction of lesion of liver"),
    "biopsy": ("86259008", "Biopsy of liver"),
    "transplant": ("18027006", "Transplantation of liver"),
}


@pytest.mark.parametrize(
    "kind, snomed",
    [
        *SNOMED_BY_KIND.items(),
        ("resection_with_ablation", None),  # no one concept names both: our code alone
        ("pve", None),
        ("sbrt", None),
        ("lung_resection", None),
    ],
)
def test_a_treatment_has_our_kind_and_snomed_where_confirmed(kind, snomed):
    treatment = LiverTreatment(id=7, patient_id=3, date=date(2026, 1, 5), kind=kind)
    codings = {c.system: (c.code, c.display) for c in procedure_resource(treatment).code.coding}
    assert codings[TREATMENT_KIND][0] == kind
    assert codings.get(SNOMED) == snomed


def _procedure_coded(system: str, code: str) -> dict:
    return {
        "resource": {
            "resourceType": "Procedure",
            "status": "completed",
            "code": {"coding": [{"system": system, "code": code}]},
            "subject": {"reference": "urn:uuid:p1"},
            "performedDateTime": "2026-01-05",
        },
        "request": {"method": "POST", "url": "Procedure"},
    }


@pytest.mark.parametrize("kind, snomed", SNOMED_BY_KIND.items())
def test_a_procedure_coded_in_snomed_alone_imports_as_our_kind(kind, snomed):
    entry = _procedure_coded(SNOMED, snomed[0])
    table = read_bundle(bundle(patient("urn:uuid:p1", "17856000281"), entry))
    (row,) = table.rows
    assert row[1]["treatment_kind"] == kind


def test_a_snomed_number_in_another_system_is_not_read_as_snomed():
    entry = _procedure_coded("urn:example:local-codes", "107963000")
    table = read_bundle(bundle(patient("urn:uuid:p1", "17856000281"), entry))
    (row,) = table.rows
    assert row[1]["treatment_kind"] == ""  # no kind: the row fails the import's check


def test_the_declared_version_is_the_models_version():
    # fhir.resources ships R5, R4B and STU3 models, no R4 4.0.1: R4B is what is validated.
    assert FHIR_VERSION == fhir.resources.R4B.__fhir_version__ == "4.3.0"
    assert capability_statement("test").fhirVersion == FHIR_VERSION
