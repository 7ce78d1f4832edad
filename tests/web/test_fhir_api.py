"""The FHIR API as a record system uses it: bearer tokens of one clinic, resources that parse
with fhir.resources and round-trip, a CapabilityStatement that matches the routes."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class

from surveillance.db.models import AuditEvent, Patient
from surveillance.fhir import ratelimit
from surveillance.fhir.codes import (
    D_NUMBER,
    FODSELSNUMMER,
    SNOMED,
    TREATMENT_KIND,
    national_id_system,
)
from surveillance.fhir.record import RESOURCE_TYPES
from surveillance.fhir.tokens import create_api_token, revoke_api_token
from surveillance.services import Actor, record_result, record_treatment

from .route_table import FHIR

SETUP = Actor("setup@test")


@pytest.fixture
def token_of(world, session):
    """A live token of clinic "a" or "b"."""
    return lambda side: create_api_token(session, SETUP, world.side(side).clinic_id, "EPJ").token


@pytest.fixture
def fhir(app):
    """GET a FHIR path with a token (or none); the answer."""

    def get(path: str, token: str | None, **query):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return app.test_client().get(path, headers=headers, query_string=query or None)

    return get


@pytest.fixture
def full_record(world, session, setup_for, exam_of):
    """Clinic A's patient with a CEA over the limit (an MDT flag) and a CT reading."""
    s = setup_for("a")
    record_result(
        session, s.ctx, exam_of(world.a.patient_id, "cea").id, done_date=s.today, value="7,5"
    )
    record_result(
        session,
        s.ctx,
        exam_of(world.a.patient_id, "ct_tap").id,
        done_date=s.today,
        result="normal",
    )
    return world.a.patient_id


def parsed(answer):
    """The answer's resource, parsed and validated by fhir.resources."""
    assert answer.status_code == 200, answer.text
    assert answer.mimetype == "application/fhir+json"
    data = answer.json
    return get_fhir_model_class(data["resourceType"]).model_validate_json(answer.text), data


def test_every_resource_parses_and_round_trips(full_record, token_of, fhir):
    token = token_of("a")
    bundle, _ = parsed(fhir(f"/fhir/Patient/{full_record}/$everything", token))
    served = {entry.resource.get_resource_type() for entry in bundle.entry}
    assert served == set(RESOURCE_TYPES)
    for entry in bundle.entry:
        kind, rid = entry.resource.get_resource_type(), entry.resource.id
        resource, data = parsed(fhir(f"/fhir/{kind}/{rid}", token))
        assert (
            json.loads(resource.model_dump_json(exclude_none=True)) == data
        )  # serve, parse, compare
        assert resource == entry.resource


def test_the_patient_carries_the_official_identifiers(world, token_of, fhir, db):
    patient = db.get(Patient, world.a.patient_id)
    _, data = parsed(fhir(f"/fhir/Patient/{patient.id}", token_of("a")))
    identifiers = {i["system"]: i["value"] for i in data["identifier"]}
    assert identifiers[FODSELSNUMMER] == patient.national_id
    assert f"P-{patient.local_number:04d}" in identifiers.values()
    assert data["birthDate"] == patient.birth_date.isoformat()
    assert data["name"][0]["text"] == "Pasient A" and data["name"][0]["family"] == "A"


@pytest.mark.parametrize(
    "number, system",
    [
        ("17856000281", FODSELSNUMMER),  # first digit 0-3: a fødselsnummer
        ("57856000281", D_NUMBER),  # day + 40: a D-number
    ],
)
def test_the_identifier_system_follows_the_number(number, system):
    assert national_id_system(number) == system


def test_the_cea_has_loinc_ucum_and_the_protocols_limit(
    full_record, world, token_of, fhir, exam_of
):
    exam = exam_of(full_record, "cea", "done")
    _, data = parsed(fhir(f"/fhir/Observation/{exam.id}", token_of("a")))
    assert {"system": "http://loinc.org", "code": "2039-6"}.items() <= data["code"]["coding"][
        1
    ].items()
    assert data["valueQuantity"] == {
        "value": 7.5,
        "unit": "µg/L",
        "system": "http://unitsofmeasure.org",
        "code": "ug/L",
    }
    assert data["referenceRange"][0]["high"]["value"] == 5.0
    assert data["interpretation"][0]["coding"][0]["code"] == "H"
    flag, _ = parsed(fhir(f"/fhir/Flag/mdt-review-{full_record}", token_of("a")))
    assert flag.code.coding[0].code == "mdt_review" and flag.code.text


def test_the_care_plan_lists_each_exam_with_its_due_date(world, token_of, fhir, db):
    patient = db.get(Patient, world.a.patient_id)
    anchor = patient.treatments[0]
    plan, _ = parsed(fhir(f"/fhir/CarePlan/{anchor.id}", token_of("a")))
    assert plan.status == "active" and plan.supportingInfo[0].reference == f"Procedure/{anchor.id}"
    assert [a.reference.reference for a in plan.activity] == [
        f"ServiceRequest/{e.id}" for e in patient.exams
    ]
    first = patient.exams[0]
    request, _ = parsed(fhir(f"/fhir/ServiceRequest/{first.id}", token_of("a")))
    assert request.occurrenceDateTime == first.due
    assert request.extension[0].valueCoding.code == first.state


# What a record system reads for each kind, written out by hand (not read from the mapping):
# the SNOMED CT concept beside our kind code, or our code alone. Transplant comes last: it
# ends the surveillance, and a treatment after it would not be the patient's next one.
SERVED_SNOMED = {
    "resection": ("107963000", "Excision of liver"),
    "ablation": ("5415002", "Destruction of lesion of liver"),
    "resection_with_ablation": None,
    "biopsy": ("86259008", "Biopsy of liver"),
    "pve": None,
    "transplant": ("18027006", "Transplantation of liver"),
}


def test_each_kinds_procedure_carries_its_snomed_code(setup_for, token_of, fhir):
    s = setup_for("a")
    for days_ago, kind in zip(range(60, 0, -10), SERVED_SNOMED, strict=True):
        record_treatment(s.session, s.ctx, s.patient_id, date=s.day(-days_ago), kind=kind)
    treatments = {t.kind: t for t in s.patient().treatments}
    token = token_of("a")
    for kind, snomed in SERVED_SNOMED.items():
        procedure, _ = parsed(fhir(f"/fhir/Procedure/{treatments[kind].id}", token))
        codings = {c.system: (c.code, c.display) for c in procedure.code.coding}
        assert codings[TREATMENT_KIND][0] == kind, kind
        assert codings.get(SNOMED) == snomed, kind
        assert len(procedure.code.coding) == (2 if snomed else 1), kind


# ---- tokens: route x token x clinic ----------------------------------------------------


def _fhir_paths(world, db, side: str) -> dict[str, str]:
    """A path of every FHIR route that reads data, for the patient of a clinic."""
    patient = db.get(Patient, world.side(side).patient_id)
    treatment, exam = patient.treatments[0], patient.exams[0]
    return {
        "fhir.read_Patient": f"/fhir/Patient/{patient.id}",
        "fhir.read_Procedure": f"/fhir/Procedure/{treatment.id}",
        "fhir.read_CarePlan": f"/fhir/CarePlan/{treatment.id}",
        "fhir.read_ServiceRequest": f"/fhir/ServiceRequest/{exam.id}",
        "fhir.everything": f"/fhir/Patient/{patient.id}/$everything",
        "fhir.search_patients": f"/fhir/Patient?identifier={patient.national_id}",
    }


@pytest.mark.parametrize(
    "token, patient_of, status",
    [
        ("a", "a", 200),  # the clinic's own token reads its patients
        ("b", "a", 404),  # another clinic's token: the patient does not exist
        ("a", "b", 404),  # the own token, another clinic's patient: does not exist either
        ("revoked", "a", 401),  # a revoked token is no token
        ("none", "a", 401),  # no Authorization header
        ("malformed", "a", 401),  # not a token at all
        ("unknown", "a", 401),  # well formed, never issued
    ],
)
def test_token_rules(world, session, db, token_of, fhir, token, patient_of, status):
    if token == "revoked":
        new = create_api_token(session, SETUP, world.a.clinic_id)
        revoke_api_token(session, SETUP, new.id)
        secret = new.token
    elif token in ("a", "b"):
        secret = token_of(token)
    else:
        secret = {"none": None, "malformed": "x y", "unknown": "A" * 43}[token]
    for endpoint, path in _fhir_paths(world, db, patient_of).items():
        before = db.snapshot()
        answer = fhir(path, secret)
        expected = 200 if endpoint == "fhir.search_patients" and status == 404 else status
        assert answer.status_code == expected, (endpoint, answer.text)
        assert answer.mimetype == "application/fhir+json"
        if endpoint == "fhir.search_patients" and status == 404:
            assert answer.json["total"] == 0  # a search finds nothing of another clinic
            (event,) = db.events()[len(before["audit_events"]) :]
            assert (event.action, event.patient_id) == ("fhir.search", None)  # but it asked
        elif status != 200:
            assert db.snapshot() == before  # a refusal is not even audited: nothing was read
            assert "Pasient" not in answer.text


def test_a_missing_token_is_asked_for(fhir, world):
    answer = fhir(f"/fhir/Patient/{world.a.patient_id}", None)
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_every_read_is_audited_like_a_nurses_view(world, token_of, fhir, db):
    token = token_of("a")
    for path in _fhir_paths(world, db, "a").values():
        before = len(db.events())
        assert fhir(path, token).status_code == 200
        (event,) = db.events()[before:]
        assert event.patient_id == world.a.patient_id
        assert event.actor.startswith("api-token:") and event.actor.endswith("(EPJ)")
        number = db.get(Patient, world.a.patient_id).national_id
        assert number not in json.dumps(event.details)


def test_search_by_each_identifier(world, token_of, fhir, db):
    patient = db.get(Patient, world.a.patient_id)
    token, reference = token_of("a"), f"P-{patient.local_number:04d}"
    system = "http://127.0.0.1:5000/fhir/sid/local-reference"  # the default base_url
    for identifier in (
        f"{FODSELSNUMMER}|{patient.national_id}",
        patient.national_id,
        f"|{patient.national_id}",
        reference,
        f"{system}|{reference}",
    ):
        bundle, _ = parsed(fhir("/fhir/Patient", token, identifier=identifier))
        assert [e.resource.id for e in bundle.entry] == [str(patient.id)], identifier
    assert fhir("/fhir/Patient", token, identifier=f"{D_NUMBER}|{reference}").json["total"] == 0
    refused = fhir("/fhir/Patient", token, name="Pasient")
    assert refused.status_code == 400 and "name" in refused.json["issue"][0]["diagnostics"]


def test_the_rate_limit_answers_429(make_app, world, session):
    client = make_app(api_requests_per_minute=3).test_client()
    token = create_api_token(session, SETUP, world.a.clinic_id).token
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/fhir/Patient/{world.a.patient_id}"
    assert [client.get(path, headers=headers).status_code for _ in range(4)] == [200] * 3 + [429]
    answer = client.get(path, headers=headers)
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1
    other = create_api_token(session, SETUP, world.a.clinic_id).token
    assert client.get(path, headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_two_nodes_on_one_database_share_one_limit(make_app, world, session):
    # Two app instances are two nodes: each has its own process state, the database is shared.
    nodes = [make_app(api_requests_per_minute=3).test_client() for _ in range(2)]
    token = create_api_token(session, SETUP, world.a.clinic_id).token
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/fhir/Patient/{world.a.patient_id}"
    answers = [nodes[i % 2].get(path, headers=headers) for i in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
    assert answers[3].json["issue"][0]["code"] == "throttled"


def test_the_window_turns_every_minute(world, session):
    token = create_api_token(session, SETUP, world.a.clinic_id).id
    start = 60 * 29_000_000  # a window's first second
    assert [ratelimit.wait(session, token, 2, start + s) for s in (0, 1)] == [0, 0]
    assert ratelimit.wait(session, token, 2, start + 59.5) == 0.5  # the third in this minute
    assert ratelimit.wait(session, token, 2, start + 60) == 0  # the next minute counts afresh


# ---- the CapabilityStatement ------------------------------------------------------------


def test_the_capability_statement_matches_the_routes(app, fhir):
    statement, _ = parsed(fhir("/fhir/metadata", None))
    rules = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/fhir")}
    listed = {"/fhir/metadata"}
    for resource in statement.rest[0].resource:
        codes = {i.code for i in resource.interaction}
        if "read" in codes:
            listed.add(f"/fhir/{resource.type}/<resource_id>")
        if "search-type" in codes:
            assert resource.searchParam
            listed.add(f"/fhir/{resource.type}")
        for operation in resource.operation or []:
            if operation.definition.endswith("/patient-export"):  # the bulk IG's: type level
                listed.add(f"/fhir/{resource.type}/${operation.name}")
            else:
                listed.add(f"/fhir/{resource.type}/<resource_id>/${operation.name}")
    listed |= {f"/fhir/${operation.name}" for operation in statement.rest[0].operation}
    # The URLs an export hands out in its answers (the IG's status and file URLs), not
    # interactions a CapabilityStatement lists.
    handed_out = {"/fhir/bulk-status/<key>", "/fhir/bulk-files/<key>/<kind>.ndjson"}
    assert listed == rules - handed_out and handed_out <= rules
    assert {e for r in app.url_map.iter_rules() if r.rule in rules for e in [r.endpoint]} == FHIR


def test_the_metadata_names_the_version_served(fhir):
    _, data = parsed(fhir("/fhir/metadata", None))
    assert data["fhirVersion"] == "4.3.0" and data["format"] == ["application/fhir+json"]


def test_the_token_is_stored_hashed(world, session, db):
    new = create_api_token(session, SETUP, world.a.clinic_id, "EPJ")
    snapshot = json.dumps(db.snapshot(), default=str)
    assert new.token not in snapshot
    assert len(new.token) == 43  # 256 bits, URL-safe base64
    (event,) = list(db.events("api_token.create"))
    assert isinstance(event, AuditEvent)


def test_another_clinics_results_and_flags_are_not_found(full_record, token_of, fhir, exam_of, db):
    exam = exam_of(full_record, "cea", "done")
    ours, theirs = token_of("a"), token_of("b")
    for path in (f"/fhir/Observation/{exam.id}", f"/fhir/Flag/mdt-review-{full_record}"):
        assert fhir(path, ours).status_code == 200
        before = db.snapshot()
        answer = fhir(path, theirs)
        assert answer.status_code == 404 and answer.json["resourceType"] == "OperationOutcome"
        assert db.snapshot() == before


# ---- lost to follow-up (R14) -----------------------------------------------------------


def test_a_lost_patient_has_a_flag_with_its_reason(world, make_patient, token_of, fhir, db):
    # Treated 450 days ago: the 6- and 12-month controls are long overdue -> R14's flag.
    lost = make_patient("A", name="Tapt Pasient", treated_days_ago=450)
    assert db.get(Patient, lost.id).lost_to_follow_up
    flag, data = parsed(fhir(f"/fhir/Flag/lost-to-follow-up-{lost.id}", token_of("a")))
    assert flag.status == "active" and flag.subject.reference == f"Patient/{lost.id}"
    assert data["code"]["coding"][0]["code"] == "lost_to_follow_up"
    assert "overdue" in flag.code.text
    bundle, _ = parsed(fhir(f"/fhir/Patient/{lost.id}/$everything", token_of("a")))
    assert f"lost-to-follow-up-{lost.id}" in {
        e.resource.id for e in bundle.entry if e.resource.get_resource_type() == "Flag"
    }
    assert fhir(f"/fhir/Flag/lost-to-follow-up-{lost.id}", token_of("b")).status_code == 404
    # Pasient A (treated 170 days ago) is not lost: no such flag.
    missing = fhir(f"/fhir/Flag/lost-to-follow-up-{world.a.patient_id}", token_of("a"))
    assert missing.status_code == 404
