"""Procedure: a liver treatment, with our kind code always and SNOMED CT where one is known."""

from __future__ import annotations

from fhir.resources.R4B.procedure import Procedure

from ...db.models import LiverTreatment
from ..codes import SNOMED, TREATMENT_KIND, coding

# Our kinds (protocol.md) and their English names.
KIND_NAMES = {
    "resection": "Liver resection",
    "ablation": "Liver ablation (RFA/MWA/IRE)",
    "resection_with_ablation": "Liver resection with ablation",
    "pve": "Portal vein embolisation",
    "biopsy": "Liver biopsy",
    "sbrt": "Stereotactic body radiotherapy",
    "lung_resection": "Lung resection",
    "transplant": "Liver transplant",
}
# SNOMED CT concepts, one row per kind whose concept is confirmed from a published source;
# the others carry our kind code alone. Looked for and left out (no source found that lists
# the concept with its display, 2026-11-30): resection (partial hepatectomy) and ablation
# (the concepts found name radiofrequency ablation only, narrower than RFA/MWA/IRE).
SNOMED_CODES: dict[str, tuple[str, str]] = {
    # HL7 Europe PROTECT-CHILD IG, ConceptMap transplant-type-to-standard: "liver (Liver
    # transplant) is equivalent to 18027006 (Transplantation of liver)".
    "transplant": ("18027006", "Transplantation of liver"),
}


def procedure_resource(treatment: LiverTreatment) -> Procedure:
    """The treatment; a deleted one is `entered-in-error` (it is voided, never erased)."""
    codings = [coding(TREATMENT_KIND, treatment.kind, KIND_NAMES.get(treatment.kind))]
    if treatment.kind in SNOMED_CODES:
        codings.append(coding(SNOMED, *SNOMED_CODES[treatment.kind]))
    return Procedure.model_validate(
        {
            "id": str(treatment.id),
            "status": "entered-in-error" if treatment.voided_at else "completed",
            "code": {"coding": codings},
            "subject": {"reference": f"Patient/{treatment.patient_id}"},
            "performedDateTime": treatment.date,
        }
    )


def kind_of(procedure: Procedure) -> str | None:
    """Our kind code of a Procedure, read back (import)."""
    for c in (procedure.code.coding or []) if procedure.code else []:
        if c.system == TREATMENT_KIND:
            return c.code
    return None
