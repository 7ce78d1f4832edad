"""Patients on the database: registration, references, end and resume (R1), MDT (R9), audit."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import date

import pytest
import sqlalchemy as sa
from stdnum.no import fodselsnummer

from surveillance.db import make_sessionmaker
from surveillance.db.models import AuditEvent, Base, Clinic, Patient
from surveillance.identity import make_synthetic_id
from surveillance.services import (
    Conflict,
    InputError,
    NotFound,
    confirm_booking_cancelled,
    correct_treatment,
    delete_treatment,
    end_surveillance,
    find_by_reference,
    record_booking,
    record_mdt_decision,
    record_missed,
    record_primary_control,
    record_result,
    record_treatment,
    register_patient,
    resume_surveillance,
    worklist,
)
from tests.support.data import synthetic_id
from tests.support.postgres import wait_until_blocked

BIRTH = date(1960, 5, 17)


def database_contents(session) -> dict[str, list[tuple]]:
    """Every row of every table, to show that a refused call changed nothing."""
    return {
        table.name: session.execute(sa.select(table).order_by(*table.primary_key)).all()
        for table in Base.metadata.sorted_tables
    }


def audit_events(session) -> list[AuditEvent]:
    return list(session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))


def synthetic_d_number(birth: date) -> str:
    """A synthetic D-number: day + 40 and month + 80, with valid check digits."""
    for individual in range(500):
        stem = f"{birth.day + 40:02d}{birth.month + 80:02d}{birth.year % 100:02d}{individual:03d}"
        k1 = fodselsnummer.calc_check_digit1(stem)
        k2 = fodselsnummer.calc_check_digit2(stem + k1)
        if len(k1) == len(k2) == 1:
            return stem + k1 + k2
    raise AssertionError("no individual number gives valid check digits")


def wrong_check_digit(number: str) -> str:
    return number[:10] + str((int(number[10]) + 1) % 10)


def real_format_invalid() -> str:
    """A number in the real (not synthetic) format whose last check digit is wrong: nobody's."""
    for individual in range(500):
        stem = f"{BIRTH:%d%m%y}{individual:03d}"
        k1 = fodselsnummer.calc_check_digit1(stem)
        k2 = fodselsnummer.calc_check_digit2(stem + k1)
        if len(k1) == len(k2) == 1:
            number = stem + k1 + str((int(k2) + 1) % 10)
            assert not fodselsnummer.is_valid(number)
            return number
    raise AssertionError("no individual number gives valid check digits")


@pytest.fixture
def treated_patient(session, ctx, create_patient):
    """A patient after a liver resection on 2025-01-15 (first control due 2025-07-15)."""

    def create(**overrides):
        patient = create_patient(**overrides)
        record_treatment(session, ctx, patient.id, date="2025-01-15", kind="resection")
        return patient

    return create


# -- register_patient ------------------------------------------------------------------------


def test_register_stores_the_patient(session, ctx, clinic):
    number = synthetic_id(BIRTH)
    patient = register_patient(
        session, ctx, clinic_code="TEST", national_id=number, name="  Kari Nordmann "
    )
    session.expire_all()
    stored = session.get(Patient, patient.id)
    assert (stored.national_id, stored.name, stored.birth_date) == (number, "Kari Nordmann", BIRTH)
    assert (stored.clinic_id, stored.status, stored.protocol) == (
        clinic.id,
        "active",
        "no-hdir-2025",
    )
    assert stored.exams == []  # the plan comes with the first liver treatment


def test_register_accepts_spaces_in_the_national_id(session, ctx, create_patient):
    number = synthetic_id(BIRTH)
    patient = create_patient(national_id=f"{number[:6]} {number[6:]}")
    assert patient.national_id == number


def test_register_accepts_a_synthetic_d_number(session, ctx, create_patient):
    number = synthetic_d_number(date(1971, 3, 9))
    patient = create_patient(national_id=number)
    assert patient.birth_date == date(1971, 3, 9)


def test_register_with_another_protocol(session, ctx, create_patient):
    assert create_patient(protocol="no-hdir-2019").protocol == "no-hdir-2019"


def test_local_references_are_sequential(session, ctx, create_patient):
    patients = [create_patient() for _ in range(3)]
    assert [ctx.reference(p.local_number) for p in patients] == ["P-0001", "P-0002", "P-0003"]
    assert find_by_reference(session, ctx, "P-0002").id == patients[1].id


# Each row: the national ID given, the setting, and the words the refusal must contain.
REFUSED_IDS = [
    # the last check digit is wrong
    (lambda: wrong_check_digit(synthetic_id(BIRTH)), True, "wrong check digits"),
    # a number in the real format with a wrong check digit
    (real_format_invalid, True, "is not a valid national ID"),
    # ten digits
    (lambda: synthetic_id(BIRTH)[:10], True, "must be 11 digits"),
    # twelve digits
    (lambda: synthetic_id(BIRTH) + "1", True, "must be 11 digits"),
    # a letter among the digits
    (lambda: "A" + synthetic_id(BIRTH)[1:], True, "must be 11 digits"),
    # a synthetic number in an installation that only takes real ones
    (lambda: synthetic_id(BIRTH), False, "synthetic test number"),
    # a synthetic D-number there too
    (lambda: synthetic_d_number(BIRTH), False, "synthetic test number"),
    # born after today
    (lambda: synthetic_id_born(date(2030, 1, 1)), True, "birth date in the future"),
]


def synthetic_id_born(birth: date) -> str:
    """A synthetic number for a birth in 2000-2039 (individual numbers 500-999)."""
    return next(n for i in range(500, 1000) if (n := make_synthetic_id(birth, i)))


@pytest.mark.parametrize("make_number, accept_synthetic, problem", REFUSED_IDS)
def test_register_refuses_a_bad_national_id(
    session, ctx, clinic, make_number, accept_synthetic, problem
):
    number = make_number()
    before = database_contents(session)
    with pytest.raises(InputError) as refused:
        register_patient(
            session,
            dataclasses.replace(ctx, accept_synthetic_ids=accept_synthetic),
            clinic_code="TEST",
            national_id=number,
            name="Kari Nordmann",
        )
    assert refused.value.field == "national_id"
    assert problem in str(refused.value) and number[:6] in str(refused.value)
    assert database_contents(session) == before


def test_register_refuses_a_duplicate_patient(session, ctx, create_patient):
    number = synthetic_id(BIRTH)
    create_patient(national_id=number)
    before = database_contents(session)
    with pytest.raises(InputError, match=r"national_id.*already registered"):
        create_patient(national_id=f"{number[:6]} {number[6:]}", name="Ola Nordmann")
    assert database_contents(session) == before


# Each row: the field given wrongly, its value, and the field the refusal names.
REFUSED_REGISTRATIONS = [
    ("clinic_code", "NOWHERE", "clinic"),  # a clinic that does not exist
    ("name", "   ", "name"),  # a name of blanks only
    ("name", "", "name"),  # no name at all
    ("name", "x" * 201, "name"),  # longer than the column
    ("protocol", "no-hdir-1999", "protocol"),  # a protocol that is not shipped
]


@pytest.mark.parametrize("key, value, field", REFUSED_REGISTRATIONS)
def test_register_refuses_bad_input(session, ctx, create_patient, key, value, field):
    before = database_contents(session)
    with pytest.raises(InputError) as refused:
        create_patient(**{key: value})
    assert refused.value.field == field and field in str(refused.value)
    assert value[:20] in str(refused.value)
    assert database_contents(session) == before


# -- end_surveillance and resume_surveillance (R1) -----------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        "not_candidate",  # no longer a candidate for further cancer treatment
        "deceased",
        "moved",
        "transplanted",  # moved to the transplant follow-up
    ],
)
def test_end_surveillance_cancels_open_exams_and_keeps_done_ones(
    session, ctx, treated_patient, status
):
    patient = treated_patient()
    cea, ct_tap = patient.exams[:2]  # the 6-month control
    record_result(session, ctx, cea.id, done_date="2025-07-20", value="2,1")
    record_result(session, ctx, ct_tap.id, done_date="2025-07-20", result="normal")
    record_booking(session, ctx, patient.exams[2].id, date="2026-01-20")
    end_surveillance(session, ctx, patient.id, status=status, reason="decided at the MDT")
    session.expire_all()
    exams = session.get(Patient, patient.id).exams
    assert [(e.month, e.state) for e in exams[:2]] == [(6, "done"), (6, "done")]
    assert {e.state for e in exams[2:]} == {"cancelled"}
    assert {e.cancel_reason for e in exams[2:]} == {status}
    assert [e.booking_to_cancel for e in exams[2:4]] == [True, False]  # the booked one
    assert session.get(Patient, patient.id).status == status
    assert worklist(session, ctx, [patient.clinic_id]).total == 0


def test_resume_surveillance_reopens_the_cancelled_exams(session, ctx, treated_patient):
    patient = treated_patient()
    record_result(session, ctx, patient.exams[0].id, done_date="2025-07-20", value="1.0")
    record_booking(session, ctx, patient.exams[1].id, date="2025-07-28")
    ids = [e.id for e in patient.exams]
    end_surveillance(session, ctx, patient.id, status="not_candidate")
    resume_surveillance(session, ctx, patient.id, reason="candidate again")
    session.expire_all()
    patient = session.get(Patient, patient.id)
    assert [e.id for e in patient.exams] == ids  # the same exams, not new ones
    assert patient.exams[0].state == "done" and patient.exams[0].result_value == 1.0
    # nobody cancelled the appointment meanwhile: it holds again
    assert (patient.exams[1].state, patient.exams[1].booked_date) == ("booked", date(2025, 7, 28))
    assert patient.exams[1].booking_to_cancel is False
    assert {(e.state, e.cancel_reason) for e in patient.exams[2:]} == {("open", None)}
    assert (patient.status, patient.status_reason) == ("active", "candidate again")


def test_end_surveillance_clears_the_mdt_flag(session, ctx, treated_patient):
    patient = treated_patient()
    cea = next(e for e in patient.exams if e.code == "cea")
    record_result(session, ctx, cea.id, done_date="2025-07-20", value="9.5")
    end_surveillance(session, ctx, patient.id, status="not_candidate")
    session.expire_all()
    assert session.get(Patient, patient.id).mdt_review is False


# -- MDT decision (R9) -------------------------------------------------------------------------


def test_no_recurrence_clears_the_mdt_flag(session, ctx, treated_patient):
    patient = treated_patient()
    cea = next(e for e in patient.exams if e.code == "cea")
    record_result(session, ctx, cea.id, done_date="2025-07-20", value="7,4")
    assert worklist(session, ctx, [patient.clinic_id]).counts["mdt_review"] == 1
    record_mdt_decision(session, ctx, patient.id, decision="no_recurrence", note="scar tissue")
    session.expire_all()
    stored = session.get(Patient, patient.id)
    assert (stored.mdt_review, stored.mdt_reason) == (False, None)
    assert worklist(session, ctx, [patient.clinic_id]).counts["mdt_review"] == 0


# -- bad input to the patient verbs changes nothing ------------------------------------------


def _ended(session, ctx, patient):
    end_surveillance(session, ctx, patient.id, status="moved")
    return patient


def _flagged(session, ctx, patient):
    cea = next(e for e in patient.exams if e.code == "cea")
    record_result(session, ctx, cea.id, done_date="2025-07-20", value="8")
    return patient


# Each row: a setup, the call, and the field and value the refusal must name.
REFUSED_CALLS = [
    # a status that does not end surveillance
    (None, lambda s, c, p: end_surveillance(s, c, p.id, status="holiday"), "status", "holiday"),
    # "active" is resumed, not an end
    (None, lambda s, c, p: end_surveillance(s, c, p.id, status="active"), "status", "active"),
    # a reason longer than a note may be
    (
        None,
        lambda s, c, p: end_surveillance(s, c, p.id, status="moved", reason="x" * 2001),
        "reason",
        "xxxx",
    ),
    # resuming a patient who never left
    (None, lambda s, c, p: resume_surveillance(s, c, p.id), "status", "active"),
    # resuming with a reason that is too long
    (_ended, lambda s, c, p: resume_surveillance(s, c, p.id, reason="y" * 2001), "reason", "yyyy"),
    # an MDT decision that does not exist
    (
        _flagged,
        lambda s, c, p: record_mdt_decision(s, c, p.id, decision="maybe"),
        "decision",
        "maybe",
    ),
    # a decision when no review is pending
    (
        None,
        lambda s, c, p: record_mdt_decision(s, c, p.id, decision="no_recurrence"),
        "decision",
        "no_recurrence",
    ),
    # a note longer than a note may be
    (
        _flagged,
        lambda s, c, p: record_mdt_decision(s, c, p.id, decision="no_recurrence", note="z" * 2001),
        "note",
        "zzzz",
    ),
]


@pytest.mark.parametrize("setup, call, field, value", REFUSED_CALLS)
def test_bad_input_to_patient_verbs_changes_nothing(
    session, ctx, treated_patient, setup, call, field, value
):
    patient = treated_patient()
    if setup:
        setup(session, ctx, patient)
    before = database_contents(session)
    with pytest.raises(InputError) as refused:
        call(session, ctx, patient)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ") and value in str(refused.value)
    assert database_contents(session) == before


# -- stale forms (expected_version) -----------------------------------------------------------

# Each row: a patient verb given the version of a form shown before the patient changed.
PATIENT_VERBS = [
    lambda s, c, p, v: end_surveillance(s, c, p.id, status="moved", expected_version=v),
    lambda s, c, p, v: record_mdt_decision(
        s, c, p.id, decision="no_recurrence", expected_version=v
    ),
    lambda s, c, p, v: record_treatment(
        s, c, p.id, date="2026-03-10", kind="resection", expected_version=v
    ),
    lambda s, c, p, v: record_primary_control(
        s, c, p.id, date="2025-07-10", exams="cea", expected_version=v
    ),
]


@pytest.mark.parametrize(
    "call",
    PATIENT_VERBS,
    ids=["end_surveillance", "record_mdt_decision", "record_treatment", "record_primary_control"],
)
def test_a_stale_patient_form_is_refused(session, ctx, treated_patient, call):
    patient = treated_patient()
    _flagged(session, ctx, patient)
    shown = patient.version
    record_treatment(session, ctx, patient.id, date="2025-01-10", kind="biopsy")  # another nurse
    before = database_contents(session)
    with pytest.raises(Conflict):
        call(session, ctx, patient, shown)
    assert database_contents(session) == before


def test_resume_with_a_stale_form_is_refused(session, ctx, treated_patient):
    patient = treated_patient()
    end_surveillance(session, ctx, patient.id, status="moved")
    shown = patient.version
    record_primary_control(session, ctx, patient.id, date="2025-07-01", exams="colonoscopy")
    before = database_contents(session)
    with pytest.raises(Conflict):
        resume_surveillance(session, ctx, patient.id, expected_version=shown)
    assert database_contents(session) == before


def test_the_current_version_is_accepted(session, ctx, treated_patient):
    patient = treated_patient()
    end_surveillance(session, ctx, patient.id, status="moved", expected_version=patient.version)
    assert patient.status == "moved"


# -- audit ----------------------------------------------------------------------------------------


def _register(session, ctx, patient):
    return register_patient(
        session, ctx, clinic_code="TEST", national_id=synthetic_id(), name="Ola Nordmann"
    ).id


def _record_treatment(session, ctx, patient):
    record_treatment(session, ctx, patient.id, date="2026-03-10", kind="ablation")
    return patient.id


def _correct_treatment(session, ctx, patient):
    correct_treatment(session, ctx, patient.treatments[0].id, date="2025-01-16")
    return patient.id


def _delete_treatment(session, ctx, patient):
    delete_treatment(session, ctx, patient.treatments[0].id)
    return patient.id


def _record_primary_control(session, ctx, patient):
    record_primary_control(session, ctx, patient.id, date="2025-07-10", exams=["ct_tap", "cea"])
    return patient.id


def _book(session, ctx, patient):
    return record_booking(session, ctx, patient.exams[0].id, date="2025-07-16").patient_id


def _result(session, ctx, patient):
    return record_result(
        session, ctx, patient.exams[1].id, done_date="2025-07-16", result="normal"
    ).patient_id


def _missed(session, ctx, patient):
    return record_missed(
        session, ctx, patient.exams[0].id, reason="ill", contact_attempt="phoned twice"
    ).patient_id


def _booked_then_superseded(session, ctx, patient):
    exam = patient.exams[4]
    record_booking(session, ctx, exam.id, date="2026-07-10")
    record_treatment(session, ctx, patient.id, date="2026-03-10", kind="resection")
    return exam


def _confirm_booking_cancelled(session, ctx, exam):
    return confirm_booking_cancelled(session, ctx, exam.id).patient_id


def _end(session, ctx, patient):
    return end_surveillance(session, ctx, patient.id, status="moved", reason="to Bergen").id


def _resume(session, ctx, patient):
    return resume_surveillance(session, ctx, patient.id, reason="back in Oslo").id


def _mdt_decision(session, ctx, patient):
    return record_mdt_decision(session, ctx, patient.id, decision="no_recurrence", note="benign").id


# Each row: the action recorded, a setup giving the call its subject (else the patient), the call.
EVERY_VERB = [
    ("patient.register", None, _register),
    ("treatment.record", None, _record_treatment),
    ("treatment.correct", None, _correct_treatment),
    ("treatment.delete", None, _delete_treatment),
    ("primary_control.record", None, _record_primary_control),
    ("exam.book", None, _book),
    ("exam.result", None, _result),
    ("exam.missed", None, _missed),
    ("exam.booking_cancelled", _booked_then_superseded, _confirm_booking_cancelled),
    ("patient.end", None, _end),
    ("patient.resume", _ended, _resume),
    ("patient.mdt_decision", _flagged, _mdt_decision),
]


@pytest.mark.parametrize("action, setup, call", EVERY_VERB, ids=[row[0] for row in EVERY_VERB])
def test_each_verb_writes_one_audit_event(session, ctx, treated_patient, action, setup, call):
    patient = treated_patient()
    scene = setup(session, ctx, patient) if setup else patient
    before = len(audit_events(session))
    acted_on = call(session, ctx, scene)
    events = audit_events(session)[before:]
    assert [(e.action, e.actor, e.patient_id) for e in events] == [(action, "nurse@test", acted_on)]
    assert acted_on != patient.id if action == "patient.register" else acted_on == patient.id


def test_audit_events_never_hold_a_national_id_or_a_name(session, ctx, treated_patient):
    for i, (_, setup, call) in enumerate(EVERY_VERB):
        patient = treated_patient(name=f"Ragnhild Testesen{i}")
        scene = setup(session, ctx, patient) if setup else patient
        call(session, ctx, scene)
    events = audit_events(session)
    assert {e.action for e in events} >= {row[0] for row in EVERY_VERB}
    for event in events:
        details = json.dumps(event.details, ensure_ascii=False)
        for national_id, name in session.execute(sa.select(Patient.national_id, Patient.name)):
            assert national_id not in details
            assert name.split()[0] not in details and name.split()[1][:8] not in details


# -- scoping ------------------------------------------------------------------------------------


def test_a_patient_of_another_clinic_is_not_found_by_reference(
    session, ctx, create_patient, clinic
):
    with session.begin():
        session.add(Clinic(code="OTHER", name="Andre klinikken"))
    patient = create_patient(clinic_code="OTHER")
    with pytest.raises(NotFound):
        find_by_reference(session, ctx, ctx.reference(patient.local_number), {clinic.id})


# -- two registrations at the same moment ----------------------------------------------------


def test_two_registrations_at_the_same_moment(engine, session, ctx, clinic):
    outcome: list[object] = []

    def second_nurse():
        with make_sessionmaker(engine)() as other:
            try:
                outcome.append(
                    register_patient(
                        other,
                        ctx,
                        clinic_code="TEST",
                        national_id=synthetic_id(),
                        name="Ola Nordmann",
                    )
                )
            except Exception as exc:  # noqa: BLE001 - what the nurse would see is the point
                outcome.append(exc)

    with make_sessionmaker(engine)() as first, first.begin():
        first.add(
            Patient(
                clinic_id=clinic.id,
                local_number=1,
                national_id=synthetic_id(),
                name="Kari Nordmann",
                birth_date=BIRTH,
                protocol="no-hdir-2025",
            )
        )
        first.flush()  # P-0001 is taken, not yet committed
        nurse = threading.Thread(target=second_nurse)
        nurse.start()
        wait_until_blocked(engine)
    nurse.join(15)
    [result] = outcome
    # Either the second patient gets the next reference, or the nurse is asked to try again.
    assert isinstance(result, (Patient, Conflict)), repr(result)
    if isinstance(result, Patient):
        assert result.local_number == 2
    assert session.scalar(sa.select(sa.func.count()).select_from(Patient)) == (
        2 if isinstance(result, Patient) else 1
    )
