"""The CapabilityStatement: exactly what /fhir/ serves (a test walks it against the routes)."""

from __future__ import annotations

from datetime import date

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from .record import RESOURCE_TYPES

FHIR_VERSION = "4.3.0"  # R4B: the models fhir.resources validates with
# Search parameters per type: name -> FHIR type.
SEARCH = {"Patient": {"identifier": "token"}}
BULK = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition"
# Operations per type: name -> its definition (instance level, but for the bulk exports).
OPERATIONS = {
    "Patient": {
        "everything": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
        "export": f"{BULK}/patient-export",  # type level: every patient of the clinic
    }
}
# Operations of the whole server.
SYSTEM_OPERATIONS = {"export": f"{BULK}/export"}
RELEASED = date(2026, 11, 30)


def capability_statement(version: str) -> CapabilityStatement:
    """What the server does: read of each type, the searches and operations of SEARCH/OPERATIONS."""
    return CapabilityStatement.model_validate(
        {
            "status": "active",
            "date": RELEASED,
            "kind": "instance",
            "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
            "software": {"name": "surveillance", "version": version},
            "implementation": {
                "description": "Surveillance: follow-up after colorectal liver metastases"
            },
            "fhirVersion": FHIR_VERSION,
            "format": ["application/fhir+json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "description": "A clinic's read-only API token: Authorization: Bearer <token>"
                    },
                    "resource": [_resource(name) for name in RESOURCE_TYPES],
                    "operation": [
                        {"name": n, "definition": d} for n, d in SYSTEM_OPERATIONS.items()
                    ],
                }
            ],
        }
    )


def _resource(name: str) -> dict:
    found: dict = {"type": name, "interaction": [{"code": "read"}]}
    if name in SEARCH:
        found["interaction"].append({"code": "search-type"})
        found["searchParam"] = [{"name": n, "type": t} for n, t in SEARCH[name].items()]
    if name in OPERATIONS:
        found["operation"] = [{"name": n, "definition": d} for n, d in OPERATIONS[name].items()]
    return found
