"""A FHIR transaction Bundle imports like a CSV file: the same checks, the same dry run, and
a Bundle exported from one installation makes the same plans in an empty one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from surveillance.cli import main
from surveillance.db import make_engine, make_sessionmaker
from surveillance.db.migrate import upgrade
from surveillance.db.models import Clinic, LiverTreatment, Patient, PlannedExam
from surveillance.demo import load_demo
from surveillance.fhir.bundle import read_bundle
from surveillance.fhir.codes import EXT_SURVEILLANCE_END
from surveillance.services.imports import BadFile, check_file, import_csv
from surveillance.services.patients import END_STATUSES
from tests.support.data import TODAY, synthetic_id
from tests.support.fhir import bundle, patient, procedure

DEMO_PATIENTS = 20


def run(url: str, monkeypatch, *args: str):
    monkeypatch.setenv("SURVEILLANCE_DATABASE_URL", url)
    return CliRunner().invoke(main, list(args))


def plans(url: str) -> dict[str, list[tuple]]:
    """Each patient's current plan (the latest anchor's exams, none cancelled), by national ID.

    The exams of earlier plans differ by design: done ones stay in the source, where the
    imported patient has no history of results, so their open ones are superseded.
    """
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    Patient.national_id,
                    LiverTreatment.date,
                    PlannedExam.code,
                    PlannedExam.month,
                    PlannedExam.due,
                )
                .join(PlannedExam, PlannedExam.patient_id == Patient.id)
                .join(LiverTreatment, LiverTreatment.id == PlannedExam.anchor_treatment_id)
                .where(PlannedExam.state != "cancelled")
                .order_by(Patient.national_id, PlannedExam.due, PlannedExam.code)
            ).all()
    finally:
        engine.dispose()
    latest = {}
    for number, anchored, *_exam in rows:
        latest[number] = max(latest.get(number, anchored), anchored)
    found: dict[str, list[tuple]] = {}
    for number, anchored, *exam in rows:
        if anchored == latest[number]:
            found.setdefault(number, []).append(tuple(exam))
    return found


@pytest.fixture
def empty_installation(fresh_database, engine):
    """A second database of the same backend, with the demo clinic and nobody in it."""
    url = fresh_database(engine.dialect.name)
    other = make_engine(url)
    upgrade(other)
    with make_sessionmaker(other)() as session, session.begin():
        session.add(Clinic(code="DEMO", name="Demoklinikken"))
    other.dispose()
    return url


def test_an_exported_bundle_imports_with_the_same_plans(
    engine, session, ctx, tmp_path, monkeypatch, empty_installation
):
    config = tmp_path / "config.toml"
    config.write_text("[patients]\naccept_synthetic_ids = true\n", "utf-8")
    monkeypatch.setenv("SURVEILLANCE_CONFIG", str(config))
    load_demo(session, ctx, DEMO_PATIENTS, 2025)
    session.commit()
    source = engine.url.render_as_string(hide_password=False)
    exported = run(
        source, monkeypatch, "export", "--clinic", "DEMO", "--bundle", str(tmp_path / "out")
    )
    assert exported.exit_code == 0, exported.output
    bundle = tmp_path / "out" / "bundle.json"
    dry = run(
        empty_installation, monkeypatch, "import", str(bundle), "--clinic", "DEMO",
        "--dry-run", "--today", TODAY.isoformat(),
    )  # fmt: skip
    assert dry.exit_code == 0, dry.output
    assert f"{DEMO_PATIENTS} to import" in dry.stdout and "nothing was written" in dry.stdout
    assert plans(empty_installation) == {}
    done = run(
        empty_installation, monkeypatch, "import", str(bundle), "--clinic", "DEMO",
        "--today", TODAY.isoformat(),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert f"imported {DEMO_PATIENTS} patients" in done.stdout
    # The Bundle carries the end of surveillance (an extension on the Patient): an ended
    # patient stays ended, with the same reason; the others get the same plans.
    ended = endings(source)
    imported, exported_plans = plans(empty_installation), plans(source)
    assert 0 < len(ended) < DEMO_PATIENTS / 2
    assert endings(empty_installation) == ended
    assert len(imported) == DEMO_PATIENTS - len(ended)
    assert {k: v for k, v in imported.items() if k not in ended} == {
        k: v for k, v in exported_plans.items() if k not in ended
    }
    for number in ended:  # every open exam cancelled (R1): no plan left to work on
        assert imported.get(number, []) == []


def endings(url: str) -> dict[str, tuple[str, str | None]]:
    """The ended patients' status and reason, by national ID."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(Patient.national_id, Patient.status, Patient.status_reason).where(
                    Patient.status.in_(END_STATUSES)
                )
            ).all()
    finally:
        engine.dispose()
    return {number: (status, reason) for number, status, reason in rows}


def ended_patient(url: str, number: str, status: str, reason: str = "") -> dict:
    entry = patient(url, number)
    parts = [{"url": "status", "valueCode": status}]
    parts += [{"url": "reason", "valueString": reason}] if reason else []
    entry["resource"]["extension"] = [{"url": EXT_SURVEILLANCE_END, "extension": parts}]
    return entry


def test_an_ended_patient_imports_ended_and_a_bad_ending_is_named(session, ctx, clinic):
    data = bundle(
        ended_patient("urn:uuid:1", synthetic_id(), "deceased", "Død 2026-03-01"),
        procedure("urn:uuid:1", "2025-01-15", "resection"),
        ended_patient("urn:uuid:2", synthetic_id(), "on_holiday"),  # no such ending
        procedure("urn:uuid:2", "2025-01-15", "resection"),
    )
    preview = check_file(session, ctx, "TEST", data, read_bundle)
    (problem,) = preview.problems
    assert (problem.row, problem.field, problem.value) == (3, "ended", "on_holiday")
    good = bundle(
        ended_patient("urn:uuid:1", synthetic_id(), "deceased", "Død 2026-03-01"),
        procedure("urn:uuid:1", "2025-01-15", "resection"),
    )
    import_csv(session, ctx, "TEST", good, read_bundle)
    imported = session.scalar(sa.select(Patient))
    assert (imported.status, imported.status_reason) == ("deceased", "Død 2026-03-01")
    assert {e.state for e in imported.exams} == {"cancelled"}


def test_the_bundle_is_checked_like_a_csv_file(session, ctx, clinic):
    data = bundle(
        patient("urn:uuid:1", synthetic_id()),
        procedure("urn:uuid:1", "2025-01-15", "resection"),
        patient("urn:uuid:2", "12345678901", "Ola"),  # a bad number
        procedure("urn:uuid:2", "2099-01-01", "reseksjon"),  # in the future
        patient("urn:uuid:3", synthetic_id(), ""),  # no name, no treatment
    )
    preview = check_file(session, ctx, "TEST", data, read_bundle)
    assert preview.count("new") == 1 and preview.count("problem") == 2
    problems = {(p.row, p.field) for p in preview.problems}
    assert {
        (3, "national_id"),
        (3, "treatment_date"),
        (5, "name"),
        (5, "treatment_date"),
    } <= problems
    assert next(
        p for p in preview.problems if p.row == 3 and p.field == "treatment_date"
    ).value == ("2099-01-01")
    assert session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 0


def test_earlier_procedures_are_treatments_too(session, ctx, clinic):
    data = bundle(
        patient("urn:uuid:1", synthetic_id()),
        procedure("urn:uuid:1", "2025-01-15", "resection"),
        procedure("urn:uuid:1", "2024-06-01", "ablation"),
    )
    (row,) = check_file(session, ctx, "TEST", data, read_bundle).rows
    assert row.status == "new"
    assert row.values["more_treatments"] == ((TODAY.replace(2024, 6, 1), "ablation"),)


FLAG = {"resourceType": "Flag", "status": "active", "code": {}, "subject": {"reference": "P/1"}}


FLAG = {"resourceType": "Flag", "status": "active", "code": {}, "subject": {"reference": "P/1"}}


@pytest.mark.parametrize(
    "data, says",
    [
        (b"{not json", "not JSON"),  # a broken file
        (b'{"resourceType": "Bundle", "type": "transaction", "entry": 3}', "entry"),  # not FHIR
        (b'{"resourceType": "Bundle", "type": "searchset"}', "transaction"),  # not a transaction
        (bundle(procedure("Patient/9", "2025-01-15", "resection")), "Patient"),  # no patient
        (bundle({"resource": FLAG}), "Flag"),  # only Patient and Procedure are imported
    ],
)
def test_a_file_that_is_no_transaction_bundle_is_refused_whole(data, says):
    with pytest.raises(BadFile) as refused:
        read_bundle(data)
    assert says in str(refused.value)
