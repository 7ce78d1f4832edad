"""FHIR transaction Bundles of Patient + Procedure, as an import test writes them."""

from __future__ import annotations

import json

from surveillance.fhir.codes import FODSELSNUMMER, TREATMENT_KIND


def bundle(*entries) -> bytes:
    return json.dumps(
        {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}
    ).encode()


def patient(url: str, number: str, name: str = "Kari Nordmann") -> dict:
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": FODSELSNUMMER, "value": number}],
    }
    if name:
        resource["name"] = [{"text": name}]
    return {"fullUrl": url, "resource": resource, "request": {"method": "POST", "url": "Patient"}}


def procedure(subject: str, day: str, kind: str) -> dict:
    resource = {
        "resourceType": "Procedure",
        "status": "completed",
        "code": {"coding": [{"system": TREATMENT_KIND, "code": kind}]},
        "subject": {"reference": subject},
        "performedDateTime": day,
    }
    return {"resource": resource, "request": {"method": "POST", "url": "Procedure"}}
