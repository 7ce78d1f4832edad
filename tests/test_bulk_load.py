"""Loading many patients at once on the database: plans included, all or nothing."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest
import sqlalchemy as sa

from surveillance.db.models import AuditEvent, Base, Control, Patient
from surveillance.services import InputError, record_primary_control, record_treatment, worklist
from surveillance.services.bulk import NewPatient, load_patients
from surveillance.services.control_rows import store_controls
from tests.support.data import synthetic_id

D = date.fromisoformat


def database_contents(session) -> dict[str, list[tuple]]:
    """Every row of every table, to show that a refused call changed nothing."""
    return {
        table.name: session.execute(sa.select(table).order_by(*table.primary_key)).all()
        for table in Base.metadata.sorted_tables
    }


def loaded(session) -> list[Patient]:
    session.expire_all()
    return list(session.scalars(sa.select(Patient).order_by(Patient.local_number)))


def plan_of(patient: Patient) -> list[tuple]:
    return [
        (e.code, e.month, e.due, e.due_working_day, e.state, e.coordinated_date)
        for e in patient.exams
    ]


def new_patient(**overrides) -> NewPatient:
    """A resected patient to load; keyword arguments override the defaults."""
    overrides.setdefault("national_id", synthetic_id())
    overrides.setdefault("name", "Per Hansen")
    overrides.setdefault("treatments", ((D("2025-01-15"), "resection"),))
    return NewPatient(**overrides)


@pytest.fixture
def load(session, ctx, clinic):
    """Load patients into the test clinic."""
    return lambda patients, context=ctx: load_patients(session, context, clinic.code, patients)


def test_loads_patients_with_their_plans(session, ctx, load):
    count = load(
        [
            new_patient(),
            new_patient(treatments=((D("2025-03-31"), "ablation"), (D("2024-06-01"), "pve"))),
            new_patient(treatments=()),  # registered before any liver treatment
        ]
    )
    patients = loaded(session)
    assert count == 3
    assert [ctx.reference(p.local_number) for p in patients] == ["P-0001", "P-0002", "P-0003"]
    assert [len(p.exams) for p in patients] == [16, 18, 0]
    assert [len(p.treatments) for p in patients] == [1, 2, 0]
    assert {(p.status, p.protocol, p.birth_date) for p in patients} == {
        ("active", "no-hdir-2025", D("1960-05-17"))
    }
    exams = [e for p in patients for e in p.exams]
    assert {(e.state, e.sequence, e.version) for e in exams} == {("open", 0, 1)}
    assert len({e.uid for e in exams}) == len(exams)
    assert {e.anchor_treatment.kind for e in patients[1].exams} == {"ablation"}


def test_a_loaded_plan_is_the_plan_a_nurse_would_record(session, ctx, load, create_patient):
    load(
        [
            new_patient(
                treatments=((D("2025-10-02"), "resection"),),
                primary_controls=((D("2026-04-10"), ("ct_tap", "colonoscopy")),),
            )
        ]
    )
    recorded = create_patient()
    record_treatment(session, ctx, recorded.id, date="2025-10-02", kind="resection")
    record_primary_control(session, ctx, recorded.id, date="2026-04-10", exams="ct_tap colonoscopy")
    bulk, by_hand = loaded(session)
    assert plan_of(bulk) == plan_of(by_hand)
    assert plan_of(bulk)[1][5] == D("2026-04-10")  # the 6-month CT is coordinated
    # the services find nothing to change in a loaded plan
    assert not record_treatment(session, ctx, bulk.id, date="2024-01-01", kind="biopsy")


def test_done_before_marks_the_earlier_exams_done(session, ctx, load):
    load([new_patient(done_before=D("2026-01-16"))])
    [patient] = loaded(session)
    done = [(e.month, e.done_date) for e in patient.exams if e.state == "done"]
    assert done == [
        (6, D("2025-07-15")),
        (6, D("2025-07-15")),
        (12, D("2026-01-15")),
        (12, D("2026-01-15")),
    ]
    assert {e.state for e in patient.exams[4:]} == {"open"}
    assert patient.status == "active"
    on_time = dataclasses.replace(ctx, today=D("2026-06-10"))
    assert [i.due for i in worklist(session, on_time, [patient.clinic_id]).items] == [
        D("2026-07-15")
    ]


def test_a_patient_loaded_with_every_exam_done_has_completed(session, ctx, load):
    load(
        [
            new_patient(treatments=((D("2019-01-15"), "resection"),), done_before=D("2024-02-01")),
            new_patient(treatments=((D("2019-01-15"), "resection"),), done_before=D("2024-01-15")),
        ]
    )
    completed, last_control_open = loaded(session)
    assert completed.status == "completed"
    assert last_control_open.status == "active"  # the 60-month control is due on done_before


def test_one_audit_event_without_identities(session, ctx, load):
    patients = [new_patient(name="Ingrid Bulkesen"), new_patient(name="Ingrid Bulkesen")]
    load(patients)
    [event] = session.scalars(sa.select(AuditEvent)).all()
    assert (event.action, event.actor, event.patient_id) == (
        "patient.bulk_load",
        "nurse@test",
        None,
    )
    assert event.details == {"clinic": "TEST", "patients": 2, "exams": 32}
    details = json.dumps(event.details)
    assert all(p.national_id not in details for p in patients) and "Bulkesen" not in details


def test_local_references_continue_after_registered_patients(session, ctx, load, create_patient):
    create_patient()
    load([new_patient(), new_patient()])
    assert [ctx.reference(p.local_number) for p in loaded(session)] == [
        "P-0001",
        "P-0002",
        "P-0003",
    ]


# -- all or nothing --------------------------------------------------------------------------


def _wrong_check_digit() -> str:
    number = synthetic_id()
    return number[:10] + str((int(number[10]) + 1) % 10)


# Each row: what is wrong with row 3, and the field its refusal names.
BAD_THIRD_ROWS = [
    (lambda: new_patient(national_id=_wrong_check_digit()), "row 3: national_id"),
    (lambda: new_patient(national_id="123"), "row 3: national_id"),  # too short
    (lambda: new_patient(name="  "), "row 3: name"),
    (lambda: new_patient(treatments=((D("2025-01-15"), "hepatectomy"),)), "row 3: treatment kind"),
    (
        lambda: new_patient(treatments=((D("2026-06-02"), "resection"),)),  # tomorrow
        "row 3: treatment date",
    ),
    (
        lambda: new_patient(treatments=((D("1960-05-16"), "resection"),)),  # before birth
        "row 3: treatment date",
    ),
    (
        lambda: new_patient(primary_controls=((D("2025-07-01"), ("ct_tap", "mri_brain")),)),
        "row 3: primary control exams",
    ),
    (lambda: new_patient(protocol="no-hdir-1999"), "row 3: protocol"),
]


@pytest.mark.parametrize("bad_row, field", BAD_THIRD_ROWS)
def test_a_bad_row_loads_nothing(session, ctx, load, create_patient, bad_row, field):
    create_patient()
    before = database_contents(session)
    with pytest.raises(InputError) as refused:
        load([new_patient(), new_patient(), bad_row(), new_patient()])
    assert refused.value.field == field and str(refused.value).startswith(f"{field}: ")
    assert database_contents(session) == before


def test_synthetic_numbers_are_refused_where_not_accepted(session, ctx, load):
    before = database_contents(session)
    with pytest.raises(InputError, match=r"^row 1: national_id: .* synthetic"):
        load([new_patient()], dataclasses.replace(ctx, accept_synthetic_ids=False))
    assert database_contents(session) == before


def test_a_duplicate_within_the_file_is_refused(session, ctx, load):
    number = synthetic_id()
    before = database_contents(session)
    with pytest.raises(InputError) as refused:
        load(
            [
                new_patient(national_id=number),
                new_patient(),
                new_patient(national_id=f"{number[:6]} {number[6:]}"),
            ]
        )
    assert refused.value.field == "row 3: national_id"
    assert "appears twice (also row 1)" in str(refused.value)
    assert database_contents(session) == before


def test_a_patient_already_registered_is_refused(session, ctx, load, create_patient):
    number = synthetic_id()
    create_patient(national_id=number)
    before = database_contents(session)
    with pytest.raises(InputError) as refused:
        load([new_patient(), new_patient(national_id=number)])
    assert refused.value.field == "row 2: national_id"
    assert "already registered" in str(refused.value) and number in str(refused.value)
    assert database_contents(session) == before


def test_an_unknown_clinic_is_refused(session, ctx, clinic):
    before = database_contents(session)
    with pytest.raises(InputError, match=r"^clinic: 'NOWHERE'"):
        load_patients(session, ctx, "NOWHERE", [new_patient()])
    assert database_contents(session) == before


def test_a_loaded_transplant_ends_surveillance(session, ctx, load):
    load(
        [new_patient(treatments=((D("2025-01-15"), "resection"), (D("2025-06-01"), "transplant")))]
    )
    [patient] = loaded(session)
    assert patient.status == "transplanted"


def test_done_before_in_the_future_is_refused(session, ctx, load):
    with pytest.raises(InputError, match=r"^row 1: done_before"):
        load([new_patient(done_before=D("2027-01-01"))])  # would mark exams done in 2026-07


def test_loaded_controls_are_those_the_services_store(session, ctx, load):
    """The worklist reads controls: a bulk load writes the ones a re-plan would write."""
    load(
        [
            new_patient(),
            new_patient(treatments=((D("2025-03-31"), "ablation"),), done_before=D("2025-10-01")),
            new_patient(
                treatments=((D("2024-01-10"), "ablation"), (D("2025-02-03"), "resection")),
                primary_controls=((D("2025-08-01"), ("ct_tap", "cea")),),
            ),
        ]
    )
    columns = [c for c in Control.__table__.columns if c.name != "id"]
    query = sa.select(*columns).order_by(Control.patient_id, Control.due, Control.stage)
    as_loaded = session.execute(query).all()
    for patient in loaded(session):
        store_controls(session, patient)
    session.commit()
    assert as_loaded and session.execute(query).all() == as_loaded
