"""The code systems and identifier systems the FHIR resources use, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config

# The Norwegian national identifier systems (Direktoratet for e-helse's OIDs).
FODSELSNUMMER = "urn:oid:2.16.578.1.12.4.1.4.1"
D_NUMBER = "urn:oid:2.16.578.1.12.4.1.4.2"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# Our own code systems. No public server resolves them, so they are URNs (never a web
# address that could be taken for one); every installation names them the same.
OURS = "urn:surveillance:fhir"
TREATMENT_KIND = f"{OURS}:CodeSystem:treatment-kind"
EXAM_CODE = f"{OURS}:CodeSystem:exam"
EXAM_STATE = f"{OURS}:CodeSystem:exam-state"
READING = f"{OURS}:CodeSystem:reading"
FLAG = f"{OURS}:CodeSystem:flag"
PROTOCOL = f"{OURS}:protocol"
EXT_EXAM_STATE = f"{OURS}:StructureDefinition:exam-state"
EXT_DUE_WORKING_DAY = f"{OURS}:StructureDefinition:due-working-day"
EXT_BOOKED_DATE = f"{OURS}:StructureDefinition:booked-date"
EXT_COORDINATED_WITH = f"{OURS}:StructureDefinition:coordinated-with-primary-control"
EXT_CANCEL_REASON = f"{OURS}:StructureDefinition:cancel-reason"
# On a Patient whose surveillance ended (R1, R15): sub-extensions "status" and "reason".
EXT_SURVEILLANCE_END = f"{OURS}:StructureDefinition:surveillance-end"

CEA_LOINC = ("2039-6", "Carcinoembryonic Ag [Mass/volume] in Serum or Plasma")
CEA_UNIT = "ug/L"


@dataclass(frozen=True, slots=True)
class Site:
    """What the mapping needs from the installation: its local reference and CEA limit."""

    base_url: str
    reference_prefix: str = "P-"
    cea_upper_limit: float = 5.0

    @classmethod
    def from_config(cls, config: Config) -> Site:
        """The site of the loaded configuration."""
        return cls(
            config.web.base_url, config.patients.reference_prefix, config.settings.cea_upper_limit
        )

    @property
    def local_reference_system(self) -> str:
        """The identifier system of this installation's P-nnnn references."""
        return self.base_url.rstrip("/") + "/fhir/sid/local-reference"

    def reference(self, local_number: int) -> str:
        """The patient's local reference: "P-0042"."""
        return f"{self.reference_prefix}{local_number:04d}"


def national_id_system(national_id: str) -> str:
    """A D-number's first digit is 4-7 (day + 40); anything else is a fødselsnummer."""
    return D_NUMBER if national_id[:1] in "4567" else FODSELSNUMMER


def coding(system: str, code: str, display: str | None = None) -> dict:
    """One Coding, without an empty display."""
    return {"system": system, "code": code} | ({"display": display} if display else {})
