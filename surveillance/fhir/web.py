"""The read-only FHIR API (R4B) under /fhir/: bearer tokens, one clinic each, every read audited."""

from __future__ import annotations

import time
from collections.abc import Iterable
from importlib.metadata import version

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.resource import Resource
from flask import Blueprint, Response, g, request

from ..services.audit import record_event
from ..services.transactions import transaction
from ..web.per_request import config, db
from ..web.security import csrf
from . import ratelimit
from .capability import capability_statement
from .codes import Site
from .mapping.patient import patient_resource
from .record import RESOURCE_TYPES, find_by_identifier, find_resource, load_patient, patient_record
from .tokens import TokenScope, find_token

bp = Blueprint("fhir", __name__, url_prefix="/fhir")
FHIR_JSON = "application/fhir+json"
csrf.exempt(bp)  # no form, no cookie: a bearer token is the key


def site() -> Site:
    """The installation's reference system and CEA limit."""
    return Site.from_config(config())


def _fhir(resource: Resource, status: int = 200) -> Response:
    return Response(resource.model_dump_json(exclude_none=True), status, mimetype=FHIR_JSON)


def _outcome(status: int, code: str, text: str) -> Response:
    issue = {"severity": "error", "code": code, "diagnostics": text}
    return _fhir(OperationOutcome.model_validate({"issue": [issue]}), status)


@bp.before_request
def _authenticate():
    """A live token of a clinic, within its rate; the metadata is open to anyone."""
    if request.endpoint == "fhir.metadata":
        return None
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    scope = find_token(db(), token.strip()) if scheme.lower() == "bearer" else None
    if scope is None:
        answer = _outcome(401, "login", "A valid API token is required (Authorization: Bearer)")
        answer.headers["WWW-Authenticate"] = 'Bearer realm="fhir"'
        return answer
    wait = ratelimit.wait(db(), scope.id, config().web.api_requests_per_minute, time.time())
    if wait:
        answer = _outcome(429, "throttled", "Too many requests with this token: slow down")
        answer.headers["Retry-After"] = str(int(wait) + 1)
        return answer
    g.api_token = scope
    return None


def _audit(action: str, patient_ids: Iterable[int | None], **details) -> None:
    """One audit event per patient read, as when a nurse opens the patient's page."""
    scope: TokenScope = g.api_token
    with transaction(db()):
        for patient_id in patient_ids:
            record_event(db(), scope.actor, action, patient_id, path=request.path, **details)


@bp.get("/metadata")
def metadata():
    """The CapabilityStatement."""
    return _fhir(capability_statement(version("surveillance")))


def read(resource_type: str, resource_id: str):
    """One resource of the token's clinic; 404 for anyone else's."""
    found = find_resource(db(), g.api_token.clinic_id, site(), resource_type, resource_id)
    if found is None:
        return _outcome(404, "not-found", f"{resource_type}/{resource_id} is not known")
    resource, patient_id = found
    answer = _fhir(resource)
    _audit("fhir.read", [patient_id], resource=resource_type)
    return answer


for _type in RESOURCE_TYPES:
    bp.add_url_rule(
        f"/{_type}/<resource_id>", f"read_{_type}", read, defaults={"resource_type": _type}
    )


@bp.get("/Patient")
def search_patients():
    """Patients of the clinic by `identifier` (a searchset Bundle, maybe empty)."""
    token = request.args.get("identifier", "")
    unknown = sorted(set(request.args) - {"identifier"})
    if not token or unknown:
        what = f"unknown search parameter {unknown[0]!r}" if unknown else "identifier is required"
        return _outcome(400, "not-supported", what)
    patients = find_by_identifier(db(), g.api_token.clinic_id, site(), token)
    answer = _bundle([patient_resource(p, site()) for p in patients])
    _audit("fhir.search", [p.id for p in patients] or [None], resource="Patient")
    return answer


@bp.get("/Patient/<resource_id>/$everything")
def everything(resource_id: str):
    """The patient's whole record as one searchset Bundle."""
    owner = resource_id if resource_id.isascii() and resource_id.isdigit() else None
    patient = (
        load_patient(db(), g.api_token.clinic_id, int(owner)) if owner and len(owner) < 10 else None
    )
    if patient is None:
        return _outcome(404, "not-found", f"Patient/{resource_id} is not known")
    answer = _bundle(list(patient_record(patient, site())))
    _audit("fhir.everything", [patient.id], resource="Patient")
    return answer


def _bundle(resources: list[Resource]) -> Response:
    base = request.url_root.rstrip("/") + "/fhir"
    entries = [
        {"fullUrl": f"{base}/{r.get_resource_type()}/{r.id}", "resource": r} for r in resources
    ]
    return _fhir(
        Bundle.model_validate({"type": "searchset", "total": len(resources), "entry": entries})
    )
