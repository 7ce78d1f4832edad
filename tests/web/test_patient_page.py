"""The patient page's actions, done the way a nurse does them: open the page, fill in a form."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from surveillance.db.models import LiverTreatment, Patient, PatientNote, PlannedExam, PrimaryControl
from tests.support.data import synthetic_id

from .browsing import errors, flashes, visible_text
from .route_table import ROUTES


def day(world, offset: int) -> str:
    return (world.today + timedelta(days=offset)).isoformat()


def shown(d: str) -> str:
    """A date as the pages show it."""
    year, month, day_ = d.split("-")
    return f"{day_}.{month}.{year}"


def open_exams(db, patient_id: int) -> list[PlannedExam]:
    return db.scalars(
        sa.select(PlannedExam).where(
            PlannedExam.patient_id == patient_id, PlannedExam.state.in_(["open", "booked"])
        )
    )


def test_book_an_exam(nurse, patient_page, world, exam_of, db):
    exam = exam_of(world.a.patient_id, "cea")
    answer = nurse.submit(
        patient_page(),
        f"/exams/{exam.id}/book",
        date=day(world, 7),
        time="09:30",
        place="Røntgen 2",
    )
    assert answer.status_code == 302
    page = nurse.get(answer.location)
    assert flashes(page)
    assert all(text in visible_text(page) for text in (shown(day(world, 7)), "09:30", "Røntgen 2"))
    booked = db.get(PlannedExam, exam.id)
    assert (booked.state, booked.booked_date.isoformat(), booked.booked_place) == (
        "booked",
        day(world, 7),
        "Røntgen 2",
    )


def test_a_high_cea_puts_the_patient_on_the_mdt_list(nurse, patient_page, world, exam_of, db):
    exam = exam_of(world.a.patient_id, "cea")
    answer = nurse.submit(
        patient_page(), f"/exams/{exam.id}/result", done_date=day(world, 0), value="12,5"
    )
    assert answer.status_code == 302
    assert db.get(PlannedExam, exam.id).result_value == 12.5
    assert db.get(Patient, world.a.patient_id).mdt_review
    mdt_list = nurse.get("/?list=mdt_review")
    assert "Pasient A" in visible_text(mdt_list)
    page = patient_page()
    assert "12,5" in visible_text(page)  # in the CEA table
    nurse.form(page, f"/patients/{world.a.patient_id}/mdt")  # the decision can be recorded


def test_a_normal_ct_is_recorded_without_mdt_review(nurse, patient_page, world, exam_of, db):
    exam = exam_of(world.a.patient_id, "ct_tap")
    answer = nurse.submit(
        patient_page(), f"/exams/{exam.id}/result", done_date=day(world, 0), result="normal"
    )
    assert answer.status_code == 302
    assert (db.get(PlannedExam, exam.id).state, db.get(PlannedExam, exam.id).result) == (
        "done",
        "normal",
    )
    assert not db.get(Patient, world.a.patient_id).mdt_review


def test_mark_an_exam_missed_with_a_reason_and_contact_attempt(
    nurse, patient_page, world, exam_of, db
):
    exam = exam_of(world.a.patient_id, "cea")
    answer = nurse.submit(
        patient_page(),
        f"/exams/{exam.id}/missed",
        reason="Syk, ringer selv",
        contact_attempt="Ringt to ganger 12.03.",
    )
    assert answer.status_code == 302
    missed = db.get(PlannedExam, exam.id)
    assert (missed.state, missed.missed_reason, missed.contact_attempt) == (
        "missed",
        "Syk, ringer selv",
        "Ringt to ganger 12.03.",
    )
    page = visible_text(patient_page())
    assert "Syk, ringer selv" in page and "Ringt to ganger 12.03." in page


def test_a_new_treatment_says_how_the_plan_changed(nurse, patient_page, world, db):
    answer = nurse.submit(
        patient_page(),
        f"/patients/{world.a.patient_id}/treatments",
        date=day(world, -10),
        kind="resection",
        note="R0",
    )
    assert answer.status_code == 302
    treatment = db.scalars(sa.select(LiverTreatment).where(LiverTreatment.note == "R0"))[0]
    exams = db.scalars(sa.select(PlannedExam).where(PlannedExam.patient_id == world.a.patient_id))
    created = sum(e.anchor_treatment_id == treatment.id for e in exams)
    cancelled = sum(e.cancel_reason == "superseded" for e in exams)
    assert created and cancelled
    (message,) = flashes(nurse.get(answer.location))
    assert message.startswith(
        f"Lagret. Planen er endret: {created} undersøkelser planlagt, {cancelled} undersøkelse"
    )


def test_a_refusal_names_states_and_choices_in_words(nurse, patient_page, world, exam_of):
    exam = exam_of(world.a.patient_id, "cea")
    nurse.submit(patient_page(), f"/exams/{exam.id}/result", done_date=day(world, 0), value="3,1")
    done = exam_of(world.a.patient_id, "cea", "done")
    refused = nurse.post(f"/exams/{exam.id}/book", {"date": day(world, 7), "version": done.version})
    assert refused.status_code == 400
    assert errors(refused) == [f"Undersøkelse: «{exam.id}» er Utført og kan ikke bestilles"]
    refused = nurse.submit(
        patient_page(),
        f"/patients/{world.a.patient_id}/end",
        status="gone",
        reason="Borte",
        confirm="yes",
    )
    assert errors(refused) == [
        (
            "Status: «gone» er ikke en av Død, Flyttet, Ikke aktuell for "
            "videre kreftbehandling, Transplantert"
        )
    ]


def test_end_and_resume_surveillance(nurse, patient_page, world, db):
    pid = world.a.patient_id
    answer = nurse.submit(
        patient_page(),
        f"/patients/{pid}/end",
        status="moved",
        reason="Flyttet til Tromsø",
        confirm="yes",
    )
    assert answer.status_code == 302
    assert db.get(Patient, pid).status == "moved" and not open_exams(db, pid)
    page = patient_page()
    assert "Flyttet til Tromsø" in visible_text(page)
    answer = nurse.submit(page, f"/patients/{pid}/resume", reason="Flyttet tilbake")
    assert answer.status_code == 302
    assert db.get(Patient, pid).status == "active" and open_exams(db, pid)


def test_an_mdt_decision_clears_the_flag(nurse, patient_page, world, setup_for, db):
    ROUTES["patients.mdt"].reach(setup_for("a"))  # a high CEA: the patient awaits the MDT
    answer = nurse.submit(
        patient_page(), f"/patients/{world.a.patient_id}/mdt", note="MDT 12.3.: ingen residiv"
    )
    assert answer.status_code == 302
    assert not db.get(Patient, world.a.patient_id).mdt_review
    assert "Pasient A" not in visible_text(nurse.get("/?list=mdt_review"))
    assert db.events("patient.mdt_decision")[-1].details["note"] == "MDT 12.3.: ingen residiv"


def test_add_a_note(nurse, patient_page, world, db):
    answer = nurse.submit(
        patient_page(), f"/patients/{world.a.patient_id}/notes", text="Ønsker time om morgenen"
    )
    assert answer.status_code == 302
    page = visible_text(patient_page())
    assert "Ønsker time om morgenen" in page and world.a.nurse in page
    assert db.count(PatientNote, PatientNote.patient_id == world.a.patient_id) == 1


def test_register_a_primary_tumour_control(nurse, patient_page, world, db):
    answer = nurse.submit(
        patient_page(),
        f"/patients/{world.a.patient_id}/primary-controls",
        date=day(world, -5),
        exams=["colonoscopy", "mri_pelvis"],
    )
    assert answer.status_code == 302
    (control,) = db.scalars(sa.select(PrimaryControl))
    assert control.exam_codes == {"colonoscopy", "mri_pelvis"}
    assert shown(day(world, -5)) in visible_text(patient_page())


def test_correct_and_delete_a_treatment(nurse, patient_page, world, db):
    (treatment,) = db.get(Patient, world.a.patient_id).treatments
    answer = nurse.submit(
        patient_page(), f"/treatments/{treatment.id}/correct", date=day(world, -175)
    )
    assert answer.status_code == 302
    assert db.get(LiverTreatment, treatment.id).date.isoformat() == day(world, -175)
    answer = nurse.submit(patient_page(), f"/treatments/{treatment.id}/delete")
    assert answer.status_code == 302
    assert db.get(LiverTreatment, treatment.id).voided_at is not None
    assert not open_exams(db, world.a.patient_id)


def test_confirm_a_booking_is_cancelled(nurse, patient_page, world, setup_for, db):
    exam_id = ROUTES["patients.booking_cancelled"].reach(setup_for("a")).values["exam_id"]
    assert "Pasient A" in visible_text(nurse.get("/?list=booking_to_cancel"))
    answer = nurse.submit(patient_page(), f"/exams/{exam_id}/booking-cancelled")
    assert answer.status_code == 302
    assert not db.get(PlannedExam, exam_id).booking_to_cancel
    assert "Pasient A" not in visible_text(nurse.get("/?list=booking_to_cancel"))


def test_register_a_new_patient(nurse, world, db):
    number = synthetic_id()
    answer = nurse.submit(
        nurse.get("/patients/new"),
        "",
        national_id=number,
        name="Åse Øvrebø",
        treatment_date=day(world, -30),
        treatment_kind="ablation",
    )
    assert answer.status_code == 302
    patient = db.scalars(sa.select(Patient).where(Patient.national_id == number))[0]
    assert answer.location == f"/patients/{patient.id}"
    assert patient.clinic_id == world.a.clinic_id and open_exams(db, patient.id)
    assert "Åse Øvrebø" in visible_text(nurse.get(answer.location))


# ---- a bad entry: shown again with the error and everything typed, nothing saved ----------


def _exam_form(kind: str, code: str = "cea"):
    return lambda w, exam_of: f"/exams/{exam_of(w.a.patient_id, code).id}/{kind}"


def _patient_form(kind: str):
    return lambda w, exam_of: f"/patients/{w.a.patient_id}/{kind}"


BAD_ENTRIES = {
    # what proves the row: form, what the nurse typed, the field in error
    "book on 30 February": (
        _exam_form("book"),
        {"date": "2025-02-30", "time": "10:15", "place": "Røntgen 2"},
        "date",
    ),
    "result on 30 February": (
        _exam_form("result"),
        {"done_date": "2025-02-30", "value": "3,4"},
        "done_date",
    ),
    "CEA that is no number": (
        _exam_form("result"),
        {"done_date": "today", "value": "mye"},
        "value",
    ),
    "CT result in the future": (
        _exam_form("result", "ct_tap"),
        {"done_date": "2099-01-01", "result": "suspicious"},
        "done_date",
    ),
    "missed without a reason": (
        _exam_form("missed"),
        {"reason": "", "contact_attempt": "Ringt 12.03."},
        "reason",
    ),
    "treatment on 30 February": (
        _patient_form("treatments"),
        {"date": "2025-02-30", "kind": "ablation", "note": "R1"},
        "date",
    ),
    "end with no such status": (
        _patient_form("end"),
        {"status": "gone", "reason": "Flyttet til Tromsø", "confirm": "yes"},
        "status",
    ),
    "control on 30 February": (
        _patient_form("primary-controls"),
        {"date": "2025-02-30", "exams": ["colonoscopy", "mri_pelvis"]},
        "date",
    ),
    "note that is too long": (_patient_form("notes"), {"text": "Lang notat. " * 500}, "text"),
}


@pytest.mark.parametrize("form, typed, field", BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_a_bad_entry_is_shown_again_as_typed(
    app, nurse, patient_page, world, exam_of, db, form, typed, field
):
    action = form(world, exam_of)
    typed = {k: day(world, 0) if v == "today" else v for k, v in typed.items()}
    before = db.snapshot(audit=False)
    answer = nurse.submit(patient_page(), action, **typed)
    assert answer.status_code == 400
    assert db.snapshot(audit=False) == before
    (message,) = errors(answer)
    assert shown_field(app, field) in message
    again = nurse.form(answer, action).fields
    for name, value in typed.items():
        if name not in ("status",):  # a select offers only the choices there are
            assert again.get(name) in (value, [value]), f"{name} lost"  # a box: a list


def shown_field(app, field: str) -> str:
    """A field's name as the page shows it (in bokmål, the default)."""
    from flask_babel import force_locale

    from surveillance.web.labels import FIELDS

    with app.test_request_context(), force_locale("nb"):
        return str(FIELDS[field])


def test_a_bad_new_patient_is_shown_again_as_typed(app, nurse, world, db):
    typed = {
        "national_id": "12345678901",
        "name": "Åse Øvrebø",
        "treatment_date": day(world, -30),
        "treatment_kind": "ablation",
    }
    before = db.snapshot(audit=False)
    answer = nurse.submit(nurse.get("/patients/new"), "", **typed)
    assert answer.status_code == 400
    assert db.snapshot(audit=False) == before
    (message,) = errors(answer)
    assert shown_field(app, "national_id") in message and "12345678901" in message
    assert nurse.form(answer, "").fields.items() >= typed.items()


@pytest.mark.parametrize("form, typed, field", BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_the_field_a_refusal_names_is_marked_tied_to_the_message_and_focused(
    nurse, patient_page, world, exam_of, form, typed, field
):
    typed = {k: day(world, 0) if v == "today" else v for k, v in typed.items()}
    answer = nurse.submit(patient_page(), form(world, exam_of), **typed)
    marked = re.findall(r'<(?:input|select|textarea)[^>]*aria-invalid="true"[^>]*>', answer.text)
    assert len(marked) == 1 and f'name="{field}"' in marked[0]
    message_id = re.search(r'aria-describedby="([^"]+)"', marked[0])[1]
    assert re.search(rf'<p class="errors"[^>]*id="{message_id}"', answer.text)
    # The browser focuses the field, and so scrolls to it, wherever it is on the page.
    assert "autofocus" in marked[0] and answer.text.count("autofocus") == 1


def test_a_refused_result_leaves_the_exams_other_forms_as_they_were(
    nurse, patient_page, world, exam_of
):
    exam = exam_of(world.a.patient_id, "cea")

    def booking(page) -> dict:
        # The CSRF token carries the second it was signed, so it differs between pages.
        fields = nurse.form(page, f"/exams/{exam.id}/book").fields
        return {k: v for k, v in fields.items() if k != "csrf_token"}

    before = booking(patient_page())
    answer = nurse.submit(patient_page(), f"/exams/{exam.id}/result", value="mye")
    assert answer.status_code == 400
    assert booking(answer) == before
    assert before["date"], "the booking form offers the due working day"


def test_a_missing_choice_says_what_to_choose_never_none(nurse, patient_page, world):
    answer = nurse.submit(
        patient_page(), f"/patients/{world.a.patient_id}/treatments", date=day(world, -3), kind=""
    )
    (message,) = errors(answer)
    assert "None" not in message and "«»" not in message
    assert message.startswith("Type: velg en av ")


def test_a_bad_new_patient_is_told_beside_the_field(nurse, world):
    page = nurse.get("/patients/new")
    answer = nurse.submit(page, "", national_id="12345678901", name="Åse Øvrebø")
    label = re.search(r"<label>[^<]*<input name=\"national_id\"(.*?)</label>", answer.text, re.S)
    assert label and 'aria-invalid="true"' in label[1]
    assert 'class="errors field-error"' in label[1] and "12345678901" in label[1]


def test_numbers_dates_and_quotes_are_written_the_norwegian_way(
    nurse, patient_page, world, exam_of
):
    cea = exam_of(world.a.patient_id, "cea")
    nurse.submit(patient_page(), f"/exams/{cea.id}/result", done_date=day(world, 0), value="12")
    text = visible_text(patient_page())
    assert "12,0 µg/L" in text and "øvre grense 5,0" in text
    ct = exam_of(world.a.patient_id, "ct_tap")
    refused = nurse.submit(
        patient_page(), f"/exams/{ct.id}/result", done_date="2099-01-01", result="normal"
    )
    (message,) = errors(refused)
    assert "«01.01.2099»" in message and shown(day(world, 0)) in message
    assert "2099-01-01" not in message and "“" not in message


def test_ending_surveillance_needs_the_cancellations_confirmed(nurse, patient_page, world, db):
    pid = world.a.patient_id
    page = patient_page()
    count = len(list(open_exams(db, pid)))
    assert f"Jeg forstår at {count} åpne eller bestilte undersøkelser avlyses" in visible_text(page)
    refused = nurse.submit(page, f"/patients/{pid}/end", status="moved", reason="Flyttet")
    assert refused.status_code == 400
    assert db.get(Patient, pid).status == "active" and len(list(open_exams(db, pid))) == count
    (message,) = errors(refused)
    assert message.startswith("Bekreftelse: ")


def control_exams(db, patient_id: int) -> list[PlannedExam]:
    """The open exams of the patient's first control of two or more (a CT and a CEA)."""
    exams = sorted(open_exams(db, patient_id), key=lambda e: e.due)
    return next(
        c for d in sorted({e.due for e in exams}) if len(c := [e for e in exams if e.due == d]) > 1
    )


def test_book_a_whole_control_in_one_step(nurse, patient_page, world, db):
    pid = world.a.patient_id
    control = control_exams(db, pid)
    assert len(control) >= 2
    answer = nurse.submit(
        patient_page(), f"/patients/{pid}/controls/book", date=day(world, 9), place="Røntgen 2"
    )
    assert answer.status_code == 302
    booked = [db.get(PlannedExam, e.id) for e in control]
    assert {(e.state, e.booked_date.isoformat(), e.booked_place) for e in booked} == {
        ("booked", day(world, 9), "Røntgen 2")
    }


def test_a_refused_control_booking_books_none_of_its_exams(nurse, patient_page, world, db):
    pid = world.a.patient_id
    control = control_exams(db, pid)
    answer = nurse.submit(patient_page(), f"/patients/{pid}/controls/book", date="2025-02-30")
    assert answer.status_code == 400
    assert {db.get(PlannedExam, e.id).state for e in control} == {"open"}
    marked = re.findall(r'<input[^>]*aria-invalid="true"[^>]*>', answer.text)
    assert len(marked) == 1 and 'name="date"' in marked[0]


def test_the_page_links_under_the_root_it_is_served_at(nurse, world):
    # Behind a proxy that serves the dashboard under a path of its own, every form of the
    # page posts under that path; the same server's page at its own root does not.
    path = f"/patients/{world.a.patient_id}"
    mounted = nurse.get(path, base_url="http://localhost/klinikk/")
    plain = nurse.get(path)
    mounted_actions = re.findall(r'<form method="post" action="([^"]+)"', mounted.text)
    plain_actions = re.findall(r'<form method="post" action="([^"]+)"', plain.text)
    assert (mounted.status_code, plain.status_code) == (200, 200)
    assert len(mounted_actions) == len(plain_actions) > 5
    assert mounted_actions == ["/klinikk" + action for action in plain_actions]
