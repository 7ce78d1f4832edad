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
# SNOMED CT concepts, one row per kind whose concept and preferred term two independent
# published sources agree on (looked up 2026-11-30); the other kinds carry our code alone.
# Each concept is as broad as the kind: a resection of any extent, an ablation by any
# technique. Left out: resection_with_ablation (no single concept names both, and the
# codings of one CodeableConcept must mean the same thing, so it does not carry the two),
# pve, sbrt and lung_resection (not looked for).
#
# Sources, by the code:
# [IPS] HL7 IPS, ValueSet procedures-snomed-ct-ips-free-set 1.1.0 (SNOMED CT 20220731),
#   https://github.com/HL7/fhir-ips/blob/57c3299fe9759f9be7c7b6976ce61f57ef9a7bd1/input/fsh/valuesets/ProceduresSnomedCtIpsFreeSet.fsh
# [eHDSI] HL7 Europe eHDSI terminology 8.1.0, ValueSet eHDSIProcedure,
#   https://github.com/hl7-eu/EHDSI-Terminology-package/blob/25202ea6a0dedb590840c93b8d595b66cdab962f/input/fsh/valuesets/mvc/eHDSIProcedure.fsh
# [R4B] FHIR R4B core, ValueSet procedure-code, its published 1000-code expansion
#   (https://hl7.org/fhir/R4B/valueset-procedure-code.html), read in the copy generated
#   from hl7.fhir.r4b.core 4.3.0: https://github.com/fhir-typescript/fhir-typescript/blob/598941e214cc7e2f59741134e225db7041cd0784/core/r4b/src/fhirValueSets/ProcedureCodings.ts
# [mCODE] HL7 mCODE, ValueSet mcode-cancer-related-surgical-procedure-vs, the liver rows
#   (https://hl7.org/fhir/us/mcode/STU1/ValueSet-mcode-cancer-related-surgical-procedure-vs.html),
#   https://github.com/HL7/fhir-mCODE-ig/blob/b1325a2f42977a4cb719644eab1b8751641ff2f4/input/fsh/VS_Other.fsh
# [EU] HL7 Europe PROTECT-CHILD IG, ConceptMap transplant-type-to-standard: "liver (Liver
#   transplant) is equivalent to 18027006 (Transplantation of liver)".
SNOMED_CODES: dict[str, tuple[str, str]] = {
    # [IPS], [eHDSI]; [mCODE] lists it as "Liver excision". An "organ excision", which
    # SNOMED's editorial guide leaves partial or total: every liver resection is one.
    "resection": ("107963000", "Excision of liver"),
    # [R4B], [mCODE]. Destruction of a liver lesion whatever the energy (RFA, MWA, IRE,
    # cryo); the ablation-specific concepts found name one technique each (radiofrequency).
    "ablation": ("5415002", "Destruction of lesion of liver"),
    # [IPS], [eHDSI].
    "biopsy": ("86259008", "Biopsy of liver"),
    # [EU], [IPS], [eHDSI].
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
