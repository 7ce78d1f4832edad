"""The read-only FHIR API (R4B) under /fhir/: bearer tokens, one clinic each, every read audited."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from importlib.metadata import version

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.resource import Resource
from flask import Blueprint, Response, current_app, g, request

from ..services.audit import record_event
from ..services.transactions import transaction
from ..web.per_request import config, db
from ..web.security import csrf
from . import bulk, ratelimit
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


def _outcome(status: int, code: str, text: str, severity: str = "error") -> Response:
    issue = {"severity": severity, "code": code, "diagnostics": text}
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


# ---- bulk $export (FHIR Bulk Data Access IG) --------------------------------------------

NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = {NDJSON, "application/ndjson", "ndjson"}
EXPORT_PARAMETERS = {"_type", "_outputFormat"}


def kick_off_export():
    """Start an export of the token's clinic: 202 and the status URL in Content-Location."""
    refusal = _export_refusal()
    if refusal:
        return _outcome(400, "not-supported", refusal)
    # Each type once, in the order asked (a repeated type would repeat its file).
    asked = list(dict.fromkeys(t.strip() for t in request.args.get("_type", "").split(",")))
    asked = [t for t in asked if t]
    unknown = [t for t in asked if t not in RESOURCE_TYPES]
    if unknown:
        return _outcome(400, "not-supported", f"_type {unknown[0]!r} is not exported")
    scope: TokenScope = g.api_token
    try:
        job = bulk.kick_off(db(), scope, asked or list(RESOURCE_TYPES), request.url)
    except bulk.AlreadyRunning:
        answer = _outcome(
            429, "throttled", "An export of this token is running: wait for it or delete it"
        )
        answer.headers["Retry-After"] = "60"
        return answer
    sessions = current_app.extensions["surveillance"].sessions
    threading.Thread(
        target=bulk.run, args=(sessions, job.id, site(), scope.actor), daemon=True
    ).start()
    answer = _outcome(202, "informational", "The export has started", "information")
    answer.headers["Content-Location"] = _bulk_url(f"bulk-status/{job.key}")
    return answer


def _export_refusal() -> str | None:
    """Why a kick-off is refused (headers and parameters of the IG), or None."""
    if "application/fhir+json" not in request.headers.get("Accept", ""):
        return "Accept: application/fhir+json is required"
    if "respond-async" not in request.headers.get("Prefer", ""):
        return "Prefer: respond-async is required"
    unknown = sorted(set(request.args) - EXPORT_PARAMETERS)
    if unknown:
        return f"the parameter {unknown[0]!r} is not supported"
    output_format = request.args.get("_outputFormat", NDJSON)
    if output_format not in OUTPUT_FORMATS:
        return f"_outputFormat {output_format!r} is not supported: {NDJSON} only"
    return None


bp.add_url_rule("/$export", "export", kick_off_export)
bp.add_url_rule("/Patient/$export", "export_patients", kick_off_export)


def _bulk_url(path: str) -> str:
    return request.url_root.rstrip("/") + "/fhir/" + path


@bp.get("/bulk-status/<key>")
def export_status(key: str):
    """202 with X-Progress while running; the manifest when done; 500 if it failed."""
    job = bulk.find_job(db(), g.api_token, key)
    if job is None:
        return _outcome(404, "not-found", "No such export (finished exports expire after 24 h)")
    if job.state == "failed":
        return _outcome(500, "exception", job.error or "The export failed")
    if job.state == "running":
        answer = Response(status=202)
        answer.headers["X-Progress"] = job.progress or "started"
        answer.headers["Retry-After"] = "5"
        return answer
    manifest = {
        "transactionTime": job.transaction_time.isoformat(),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {"type": kind, "url": _bulk_url(f"bulk-files/{key}/{kind}.ndjson"), "count": lines}
            for kind, lines in bulk.job_files(db(), job)
        ],
        "error": [],
    }
    expires = job.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return Response(json.dumps(manifest), mimetype="application/json", headers={"Expires": expires})


@bp.delete("/bulk-status/<key>")
def export_delete(key: str):
    """Cancel a running export or remove a finished one and its files."""
    if not bulk.delete_job(db(), g.api_token, key):
        return _outcome(404, "not-found", "No such export")
    return _outcome(202, "informational", "The export is deleted", "information")


@bp.get("/bulk-files/<key>/<kind>.ndjson")
def export_file(key: str, kind: str):
    """One NDJSON file of a finished export, for the token that kicked it off."""
    found = bulk.job_file(db(), g.api_token, key, kind)
    if found is None:
        return _outcome(404, "not-found", "No such file")
    return Response(found.data, mimetype=NDJSON)
