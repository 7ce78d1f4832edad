"""Migration 0018's triggers: every write to a clinic's list data renews its stamp, on both
databases, whoever writes; a read does not. The dashboard keeps counts by these stamps."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from surveillance.db import make_sessionmaker
from surveillance.db.models import LIST_TABLES, Base, Clinic
from surveillance.errors import Conflict
from surveillance.services import record_booking
from surveillance.services.records import view_patient
from surveillance.services.transactions import transaction
from tests.support.postgres import wait_until_blocked

STAMP = sa.text("SELECT stamp FROM list_stamps WHERE clinic_id = :clinic")


def stamp(session, clinic_id: int):
    session.commit()  # end the session's read: a new snapshot sees the other writes
    return session.scalar(STAMP, {"clinic": clinic_id})


def test_a_service_write_renews_the_stamp_and_a_view_does_not(
    session, ctx, clinic, treated_patient
):
    patient = treated_patient()
    registered = stamp(session, clinic.id)
    assert registered is not None
    exam = next(e for e in patient.exams if e.state == "open")
    record_booking(session, ctx, exam.id, date="2025-07-10", expected_version=exam.version)
    booked = stamp(session, clinic.id)
    assert booked != registered
    view_patient(session, ctx, patient.id)  # audited: a write, but not of list data
    assert stamp(session, clinic.id) == booked


@pytest.mark.parametrize("table", LIST_TABLES)
@pytest.mark.parametrize(
    "write",
    [
        "UPDATE {table} SET clinic_id = clinic_id WHERE clinic_id = :clinic",
        "DELETE FROM {table} WHERE clinic_id = :clinic",
    ],
    ids=["update", "delete"],
)
def test_raw_sql_on_any_list_table_renews_the_stamp(session, clinic, treated_patient, table, write):
    treated_patient()
    before = stamp(session, clinic.id)
    if write.startswith("DELETE") and table == "patients":
        # a patient goes with its rows: their deletes (controls, exams) stamp first
        for child in reversed(Base.metadata.sorted_tables):
            if child.name != "patients" and any(
                fk.column.table.name == "patients" for fk in child.foreign_keys
            ):
                session.execute(child.delete())
        session.commit()
        before = stamp(session, clinic.id)
    session.execute(sa.text(write.format(table=table)), {"clinic": clinic.id})
    assert stamp(session, clinic.id) != before


def test_the_stamp_is_the_clinics_own(session, ctx, clinic, treated_patient):
    with session.begin():
        other = Clinic(code="OTHER", name="Andre klinikken")
        session.add(other)
    treated_patient(clinic_code="OTHER")
    first = stamp(session, clinic.id)
    treated_patient()  # a patient of the first clinic
    assert stamp(session, clinic.id) != first
    unchanged = stamp(session, other.id)
    treated_patient()
    assert stamp(session, other.id) == unchanged


def test_two_saves_of_one_patient_meeting_on_the_stamp_end_in_one_conflict(
    engine, session, clinic, treated_patient
):
    """On PostgreSQL every write takes the clinic's stamp row until commit. A save that writes
    an exam and then the patient, and another that writes the same patient meanwhile, wait for
    each other: the database ends one, which the nurse sees as "someone else saved", not as a
    database error; the other is saved."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: its saves never wait for each other")
    patient = treated_patient()
    exam_id = next(e.id for e in patient.exams if e.state == "open")
    outcome: dict[str, object] = {}
    first_wrote_exam, second_waits = threading.Event(), threading.Event()

    def save(name: str, statements: list[str]) -> None:
        try:
            with make_sessionmaker(engine)() as own, transaction(own):
                for i, statement in enumerate(statements):
                    if name == "result" and i == 1:
                        first_wrote_exam.set()
                        second_waits.wait(10)
                    own.execute(sa.text(statement), {"exam": exam_id, "patient": patient.id})
            outcome[name] = "saved"
        except Conflict as exc:
            outcome[name] = exc

    result = threading.Thread(
        target=save,
        args=(
            "result",
            [
                "UPDATE planned_exams SET sequence = sequence + 1 WHERE id = :exam",
                "UPDATE patients SET version = version + 1 WHERE id = :patient",
            ],
        ),
    )
    result.start()
    first_wrote_exam.wait(10)
    contact = threading.Thread(
        target=save,
        args=("contact", ["UPDATE patients SET phone = '40000000' WHERE id = :patient"]),
    )
    contact.start()
    wait_until_blocked(engine)
    second_waits.set()
    result.join(30)
    contact.join(30)
    assert sorted(map(type, outcome.values()), key=str) == sorted([str, Conflict], key=str)
    assert "Reload the page" in str(next(v for v in outcome.values() if isinstance(v, Conflict)))


DECISION_WRITES = {
    "insert": "INSERT INTO mdt_decisions (patient_id, date, decision, note, author, created_at)"
    " VALUES (:patient, '2025-07-01', 'no_recurrence', 'Drøftet', 'test', '2025-07-01')",
    "update": "UPDATE mdt_decisions SET note = 'Rettet' WHERE patient_id = :patient",
    "delete": "DELETE FROM mdt_decisions WHERE patient_id = :patient",
}


@pytest.mark.parametrize("write", list(DECISION_WRITES))
def test_raw_sql_on_mdt_decisions_renews_its_patients_clinics_stamp(
    session, clinic, treated_patient, write
):
    """Migration 0020: the kept worklist shows the latest decision note, so any write to
    mdt_decisions, with no clinic of its own, renews its patient's clinic's stamp."""
    patient = treated_patient()
    session.execute(sa.text(DECISION_WRITES["insert"]), {"patient": patient.id})
    before = stamp(session, clinic.id)
    session.execute(sa.text(DECISION_WRITES[write]), {"patient": patient.id})
    assert stamp(session, clinic.id) != before


def test_a_decision_moved_to_another_clinics_patient_renews_both_stamps(
    session, clinic, treated_patient
):
    with session.begin():
        session.add(Clinic(code="OTHER", name="Andre klinikken"))
    ours, theirs = treated_patient(), treated_patient(clinic_code="OTHER")
    session.execute(sa.text(DECISION_WRITES["insert"]), {"patient": ours.id})
    other_id = theirs.clinic_id
    before = stamp(session, clinic.id), stamp(session, other_id)
    session.execute(
        sa.text("UPDATE mdt_decisions SET patient_id = :to WHERE patient_id = :patient"),
        {"to": theirs.id, "patient": ours.id},
    )
    after = stamp(session, clinic.id), stamp(session, other_id)
    assert after[0] != before[0] and after[1] != before[1]
