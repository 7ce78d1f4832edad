"""Two nurses on the same record: the first save is kept, the second is refused and says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from surveillance.db.models import LiverTreatment, Patient, PlannedExam

from .browsing import errors, visible_text


@pytest.fixture
def nurses(world, log_in, create_user):
    """Two nurses of clinic A, each with the patient's page open."""
    create_user("nurse.a2@test", "nurse", ("A",))
    first, second = log_in(world.a.nurse), log_in("nurse.a2@test")
    path = f"/patients/{world.a.patient_id}"
    return (first, first.get(path)), (second, second.get(path))


def day(world, offset: int) -> str:
    return (world.today + timedelta(days=offset)).isoformat()


def test_two_bookings_of_the_same_exam(nurses, world, exam_of, db):
    (first, first_page), (second, second_page) = nurses
    exam = exam_of(world.a.patient_id, "cea")
    action = f"/exams/{exam.id}/book"
    assert (
        first.submit(first_page, action, date=day(world, 7), place="Røntgen 1").status_code == 302
    )
    refused = second.submit(second_page, action, date=day(world, 9), place="Røntgen 2")
    assert refused.status_code == 409
    assert errors(refused) == [  # a message beside the form
        "Undersøkelsen ble endret av noen andre. Last inn siden på nytt og prøv igjen."
    ]
    assert second.form(refused, action).fields["place"] == "Røntgen 2"  # what was typed stays
    assert "Røntgen 1" in visible_text(refused)  # and the page shows what was saved
    kept = db.get(PlannedExam, exam.id)
    assert (kept.booked_date.isoformat(), kept.booked_place) == (day(world, 7), "Røntgen 1")


def test_a_result_on_an_exam_booked_meanwhile(nurses, world, exam_of, db):
    (first, first_page), (second, second_page) = nurses
    exam = exam_of(world.a.patient_id, "cea")
    first.submit(first_page, f"/exams/{exam.id}/book", date=day(world, 7))
    refused = second.submit(
        second_page, f"/exams/{exam.id}/result", done_date=day(world, 0), value="3,1"
    )
    assert refused.status_code == 409
    assert db.get(PlannedExam, exam.id).state == "booked"


def test_two_ends_of_surveillance(nurses, world, db):
    (first, first_page), (second, second_page) = nurses
    action = f"/patients/{world.a.patient_id}/end"
    assert (
        first.submit(
            first_page, action, status="moved", reason="Flyttet", confirm="yes"
        ).status_code
        == 302
    )
    refused = second.submit(second_page, action, status="deceased", reason="Død", confirm="yes")
    assert refused.status_code == 409 and errors(refused)
    patient = db.get(Patient, world.a.patient_id)
    assert (patient.status, patient.status_reason) == ("moved", "Flyttet")


def test_two_treatments_from_the_same_page(nurses, world, db):
    (first, first_page), (second, second_page) = nurses
    action = f"/patients/{world.a.patient_id}/treatments"
    assert (
        first.submit(
            first_page, action, date=day(world, -10), kind="resection", note="Første"
        ).status_code
        == 302
    )
    refused = second.submit(
        second_page, action, date=day(world, -12), kind="ablation", note="Andre"
    )
    assert refused.status_code == 409 and errors(refused)
    assert second.form(refused, action).fields["note"] == "Andre"
    notes = db.scalars(
        sa.select(LiverTreatment.note).where(
            LiverTreatment.patient_id == world.a.patient_id, LiverTreatment.note.is_not(None)
        )
    )
    assert notes == ["Første"]


def test_an_end_of_surveillance_after_a_treatment_meanwhile(nurses, world, db):
    (first, first_page), (second, second_page) = nurses
    first.submit(
        first_page,
        f"/patients/{world.a.patient_id}/treatments",
        date=day(world, -10),
        kind="resection",
    )
    refused = second.submit(
        second_page, f"/patients/{world.a.patient_id}/end", status="moved", confirm="yes"
    )
    assert refused.status_code == 409
    assert db.get(Patient, world.a.patient_id).status == "active"


def test_after_the_refusal_the_nurse_can_save_on_the_new_page(nurses, world, exam_of, db):
    (first, first_page), (second, second_page) = nurses
    exam = exam_of(world.a.patient_id, "cea")
    action = f"/exams/{exam.id}/book"
    first.submit(first_page, action, date=day(world, 7))
    refused = second.submit(second_page, action, date=day(world, 9))
    assert second.submit(refused, action).status_code == 302  # the form as shown again
    assert db.get(PlannedExam, exam.id).booked_date.isoformat() == day(world, 9)
