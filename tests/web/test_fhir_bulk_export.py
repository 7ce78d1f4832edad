"""The FHIR bulk $export as a registry's client runs it: kick off, poll, download, parse
every line; on any node (the job lives in the database); clinic-scoped, audited, expiring."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fhir.resources.R4B import get_fhir_model_class

from surveillance.clock import utcnow
from surveillance.db.models import ExportFile, ExportJob, Patient
from surveillance.fhir.bulk import NODE_LOST
from surveillance.fhir.record import RESOURCE_TYPES
from surveillance.fhir.tokens import create_api_token
from surveillance.services import Actor
from tests.support.nodes import HANG_GUARD

SETUP = Actor("setup@test")
KICK_OFF = {"Accept": "application/fhir+json", "Prefer": "respond-async"}


@pytest.fixture
def nodes(make_app):
    """Two nodes on one database."""
    return [make_app().test_client() for _ in range(2)]


@pytest.fixture
def token(world, session):
    return create_api_token(session, SETUP, world.a.clinic_id, "Register").token


def auth(token: str, **more) -> dict:
    return {"Authorization": f"Bearer {token}", **more}


def kick_off(client, token: str, path: str = "/fhir/$export", **query):
    answer = client.get(path, headers=auth(token, **KICK_OFF), query_string=query or None)
    assert answer.status_code == 202, answer.text
    return answer.headers["Content-Location"]


def finished(client, token: str, status_url: str):
    """Poll until the export is done (the thread's work); the manifest."""
    for _ in range(HANG_GUARD * 10):
        answer = client.get(status_url, headers=auth(token))
        if answer.status_code != 202:
            assert answer.status_code == 200, answer.text
            return answer.json
        assert answer.headers["X-Progress"]
        time.sleep(0.1)  # not timed: how often to ask, not how long it may take
    raise AssertionError("the export never finished")


def test_kick_off_poll_download_and_parse_every_line(world, nodes, token, db):
    first, second = nodes
    status_url = kick_off(first, token)
    manifest = finished(second, token, status_url)  # the other node answers
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"].endswith("/fhir/$export") and manifest["transactionTime"]
    types = [o["type"] for o in manifest["output"]]
    assert set(types) <= set(RESOURCE_TYPES) and {"Patient", "CarePlan"} <= set(types)
    patients = db.scalars(sa.select(Patient).where(Patient.clinic_id == world.a.clinic_id))
    for output in manifest["output"]:
        answer = second.get(output["url"], headers=auth(token))
        assert answer.status_code == 200 and answer.mimetype == "application/fhir+ndjson"
        lines = answer.text.splitlines()
        assert len(lines) == output["count"]
        for line in lines:
            resource = get_fhir_model_class(output["type"]).model_validate_json(line)
            assert resource.get_resource_type() == output["type"]
        if output["type"] == "Patient":  # clinic A's only: Pasient B is not exported
            assert {json.loads(line)["id"] for line in lines} == {str(p.id) for p in patients}
    assert "Pasient B" not in json.dumps(manifest)
    actions = [e.action for e in db.events() if e.actor.startswith("api-token:")]
    assert actions[:1] == ["fhir.bulk_export"] and "fhir.bulk_download" in actions
    assert "fhir.bulk_export_done" in actions


def test_type_is_honoured_on_the_patient_level(nodes, token):
    client = nodes[0]
    url = kick_off(client, token, "/fhir/Patient/$export", _type="Patient,Flag")
    manifest = finished(client, token, url)
    # Pasient A has no flag raised: the empty Flag file is left out of the manifest.
    assert [o["type"] for o in manifest["output"]] == ["Patient"]


@pytest.mark.parametrize(
    "headers, query, named",
    [
        ({"Accept": "application/json", "Prefer": "respond-async"}, {}, "Accept"),
        ({"Accept": "application/fhir+json"}, {}, "Prefer"),  # synchronous is not offered
        (KICK_OFF, {"_since": "2026-01-01T00:00:00Z"}, "_since"),  # unsupported parameter
        (KICK_OFF, {"_type": "Patient,Encounter"}, "Encounter"),  # a type we do not serve
        (KICK_OFF, {"_outputFormat": "text/csv"}, "text/csv"),
    ],
)
def test_a_refused_kick_off_names_what_and_starts_nothing(nodes, token, db, headers, query, named):
    answer = nodes[0].get("/fhir/$export", headers=auth(token, **headers), query_string=query)
    assert answer.status_code == 400
    assert answer.json["resourceType"] == "OperationOutcome"
    assert named in answer.json["issue"][0]["diagnostics"]
    assert db.count(ExportJob) == 0


def test_another_token_finds_nothing_and_delete_removes_the_files(world, session, nodes, token, db):
    client = nodes[0]
    url = kick_off(client, token)
    manifest = finished(client, token, url)
    theirs = create_api_token(session, SETUP, world.b.clinic_id).token
    assert client.get(url, headers=auth(theirs)).status_code == 404
    assert client.get(manifest["output"][0]["url"], headers=auth(theirs)).status_code == 404
    assert client.delete(url, headers=auth(theirs)).status_code == 404
    assert nodes[1].delete(url, headers=auth(token)).status_code == 202
    assert (db.count(ExportJob), db.count(ExportFile)) == (0, 0)
    assert client.get(url, headers=auth(token)).status_code == 404
    assert client.get(manifest["output"][0]["url"], headers=auth(token)).status_code == 404


def test_a_job_whose_node_stopped_fails_visibly(nodes, token, session):
    client = nodes[0]
    url = kick_off(client, token)
    finished(client, token, url)
    # A node lost mid-run: its job still says running, its heartbeat long stopped.
    with session.begin():
        job = session.scalar(sa.select(ExportJob))
        job.state, job.heartbeat_at = "running", utcnow() - timedelta(hours=1)
    answer = nodes[1].get(url, headers=auth(token))
    assert answer.status_code == 500 and answer.json["issue"][0]["diagnostics"] == NODE_LOST


def test_old_jobs_expire_and_are_deleted(nodes, token, session, db):
    client = nodes[0]
    url = kick_off(client, token)
    finished(client, token, url)
    with session.begin():
        session.scalar(sa.select(ExportJob)).expires_at = utcnow() - timedelta(seconds=1)
    assert client.get(url, headers=auth(token)).status_code == 404
    assert (db.count(ExportJob), db.count(ExportFile)) == (0, 0)


def test_a_type_asked_twice_is_exported_once(nodes, token):
    client = nodes[0]
    url = kick_off(client, token, _type="Patient,Patient, Patient")
    manifest = finished(client, token, url)
    assert [o["type"] for o in manifest["output"]] == ["Patient"]


def test_one_running_export_per_token(nodes, token, session, db):
    client = nodes[0]
    url = kick_off(client, token)
    finished(client, token, url)
    with session.begin():  # as if it still ran on the other node, its heartbeat fresh
        job = session.scalar(sa.select(ExportJob))
        job.state, job.heartbeat_at = "running", utcnow()
    answer = nodes[1].get("/fhir/$export", headers=auth(token, **KICK_OFF))
    assert answer.status_code == 429 and answer.headers["Retry-After"]
    assert "running" in answer.json["issue"][0]["diagnostics"]
    assert db.count(ExportJob) == 1
    session.rollback()  # the count read in this session
    with session.begin():  # a job whose node stopped does not block a new one
        session.scalar(sa.select(ExportJob)).heartbeat_at = utcnow() - timedelta(hours=1)
    # Waited for: a thread still writing after the test would leave a connection open.
    finished(nodes[1], token, kick_off(nodes[1], token))
