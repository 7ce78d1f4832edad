"""The CapabilityStatement: exactly what /fhir/ serves (a test walks it against the routes)."""

from __future__ import annotations

from datetime import date

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from .record import RESOURCE_TYPES

FHIR_VERSION = "4.3.0"  # R4B: the models fhir.resources validates with
# Search parameters per type: name -> FHIR type.
SEARCH = {"Patient": {"identifier": "token"}}
# Operations per type: name -> what it returns.
OPERATIONS = {"Patient": {"everything": "the patient's whole record, a searchset Bundle"}}
RELEASED = date(2026, 11, 30)


def capability_statement(version: str) -> CapabilityStatement:
    """What the server does: read of each type, the searches and operations of SEARCH/OPERATIONS."""
    return CapabilityStatement.model_validate(
        {
            "status": "active",
            "date": RELEASED,
            "kind": "instance",
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
        found["operation"] = [
            {"name": n, "definition": f"http://hl7.org/fhir/OperationDefinition/{name}-{n}"}
            for n in OPERATIONS[name]
        ]
    return found
