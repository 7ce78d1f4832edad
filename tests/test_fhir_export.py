"""`surveillance export`: the demo clinic's NDJSON parses line by line; pseudonyms hide who."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fhir.resources.R4B import get_fhir_model_class

from surveillance.cli import main
from surveillance.db.models import AuditEvent, Patient
from surveillance.demo import load_demo
from surveillance.fhir.record import RESOURCE_TYPES

pytestmark = pytest.mark.thorough  # the whole demo clinic exported

DEMO_PATIENTS = 25


@pytest.fixture
def demo(engine, session, ctx, monkeypatch):
    """The demo clinic with a few patients, and a runner of `surveillance` on its database."""
    load_demo(session, ctx, DEMO_PATIENTS, 2025)
    session.commit()
    monkeypatch.setenv(
        "SURVEILLANCE_DATABASE_URL", engine.url.render_as_string(hide_password=False)
    )
    return lambda *args: CliRunner().invoke(main, list(args))


def read(folder: Path) -> dict[str, list]:
    """Every line of every file, parsed and validated by fhir.resources."""
    found = {}
    for kind in RESOURCE_TYPES:
        lines = (folder / f"{kind}.ndjson").read_text("utf-8").splitlines()
        model = get_fhir_model_class(kind)
        found[kind] = [model.model_validate_json(line) for line in lines]
        assert all(r.get_resource_type() == kind for r in found[kind])
    return found


def test_the_demo_clinic_exports_line_by_line(demo, tmp_path, session):
    result = demo("export", "--clinic", "DEMO", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    found = read(tmp_path / "out")
    assert len(found["Patient"]) == DEMO_PATIENTS
    assert f"Patient.ndjson\t{DEMO_PATIENTS}" in result.stdout
    patients = {p.id for p in found["Patient"]}
    for kind in ("Procedure", "CarePlan", "ServiceRequest", "Observation", "Flag"):
        assert found[kind], kind
        assert {r.subject.reference.removeprefix("Patient/") for r in found[kind]} <= patients
    (event,) = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "fhir.export"))
    assert event.details == {"clinic": "DEMO", "patients": DEMO_PATIENTS, "pseudonymised": False}


def test_pseudonymised_exports_hide_identity(demo, tmp_path, session):
    for run in ("one", "two"):
        result = demo("export", "--clinic", "DEMO", "--pseudonymise", str(tmp_path / run))
        assert result.exit_code == 0, result.output
    one, two = read(tmp_path / "one"), read(tmp_path / "two")
    text = "".join(p.read_text("utf-8") for p in (tmp_path / "one").iterdir())
    for patient in session.scalars(sa.select(Patient)):
        assert patient.national_id not in text
        assert patient.name not in text and patient.name.split()[-1] not in text
        assert f"P-{patient.local_number:04d}" not in text
        assert patient.birth_date.isoformat() not in text
        if patient.status_reason:  # typed by a nurse when surveillance ended
            assert patient.status_reason not in text
    assert session.scalar(sa.select(Patient.id).where(Patient.status_reason.is_not(None)))
    pseudonyms = {p.id for p in one["Patient"]}
    assert len(pseudonyms) == DEMO_PATIENTS and all(p.id.startswith("psn-") for p in one["Patient"])
    assert all(len(p.birthDate) == 4 and p.name is None for p in one["Patient"])
    # stable within an export: every reference names one of its patients
    for kind in ("Procedure", "CarePlan", "ServiceRequest", "Observation", "Flag"):
        assert {r.subject.reference.removeprefix("Patient/") for r in one[kind]} <= pseudonyms
    # unlinkable across exports
    assert pseudonyms.isdisjoint({p.id for p in two["Patient"]})
    assert [len(one[k]) for k in RESOURCE_TYPES] == [len(two[k]) for k in RESOURCE_TYPES]


def test_an_unknown_clinic_is_refused(demo, tmp_path):
    result = demo("export", "--clinic", "NOPE", str(tmp_path / "out"))
    assert result.exit_code == 2 and "NOPE" in result.stderr
    assert not (tmp_path / "out").exists()


def test_every_line_is_one_json_object(demo, tmp_path):
    assert demo("export", "--clinic", "DEMO", str(tmp_path)).exit_code == 0
    for path in tmp_path.glob("*.ndjson"):
        for line in path.read_text("utf-8").splitlines():
            assert isinstance(json.loads(line), dict)
