"""Migration 0018's triggers: every write to a clinic's list data renews its stamp, on both
databases, whoever writes; a read does not. The dashboard keeps counts by these stamps."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from surveillance.db.models import LIST_TABLES, Base, Clinic
from surveillance.services import record_booking
from surveillance.services.records import view_patient

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
