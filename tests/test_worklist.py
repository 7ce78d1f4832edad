"""The worklist on the database (R10): categories at their boundaries, order, pages, scope."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from surveillance.db.models import Clinic, Patient
from surveillance.services import (
    InputError,
    end_surveillance,
    record_booking,
    record_measurement,
    record_result,
    record_treatment,
    worklist,
)

D = date.fromisoformat


def exam(patient: Patient, code: str, month: int):
    return next(e for e in patient.exams if (e.code, e.month) == (code, month))


@pytest.fixture
def on(ctx):
    """The nurse's context on another day."""
    return lambda day: dataclasses.replace(ctx, today=D(day))


@pytest.fixture
def other_clinic(session) -> Clinic:
    with session.begin():
        clinic = Clinic(code="OTHER", name="Andre klinikken")
        session.add(clinic)
    return clinic


def rows(page) -> list[tuple]:
    return [(i.category, i.reference, i.codes) for i in page.items]


# -- categories at their boundaries ----------------------------------------------------------


# Each row: the 6-month control (due 2025-07-15) booked on a day or not, the worklist's day,
# and the item it shows (None: not on the worklist).
@pytest.mark.parametrize(
    "booked, today, category",
    [
        (None, "2025-06-02", None),  # 43 days ahead: upcoming, not yet to book
        (None, "2025-06-03", "to_book"),  # 42 days ahead: time to book
        (None, "2025-07-15", "to_book"),  # due today
        (None, "2025-08-14", "to_book"),  # 30 days late: not yet overdue
        (None, "2025-08-15", "overdue"),  # 31 days late
        ("2025-07-14", "2025-06-03", "booked"),
        ("2025-07-14", "2025-07-14", "booked"),  # the appointment is today
        ("2025-07-14", "2025-07-15", "results_missing"),  # the day after the appointment
        ("2025-07-14", "2025-08-14", "results_missing"),
        ("2025-07-14", "2025-08-15", "overdue"),  # booked, and no result 31 days after the due date
        ("2025-09-01", "2025-08-15", "overdue"),  # booked too late to be on time
        ("2025-07-14", "2025-05-01", "booked"),  # booked whatever its due date (R10)
        ("2025-04-20", "2025-05-01", "results_missing"),  # booked early, no result since
    ],
)
def test_the_category_of_a_control(session, ctx, on, treated_patient, booked, today, category):
    patient = treated_patient("2025-01-15")
    if booked:
        for code in ("cea", "ct_tap"):
            record_booking(session, ctx, exam(patient, code, 6).id, date=booked)
    page = worklist(session, on(today), [patient.clinic_id])
    if category is None:
        assert page.items == () and page.total == 0
        return
    [item] = page.items
    assert (item.category, item.codes, item.due, item.due_working_day) == (
        category,
        ("cea", "ct_tap"),
        D("2025-07-15"),
        D("2025-07-15"),
    )
    assert (item.reference, item.name, item.patient_id) == ("P-0001", "Kari Nordmann", patient.id)
    assert item.booked_date == (D(booked) if booked else None)
    assert item.days_late == (D(today) - D("2025-07-15")).days
    assert (item.birth_date, item.missed) == (patient.birth_date, False)
    assert page.counts[category] == page.total == 1


def test_an_item_shows_the_working_day_apart_from_the_due_date(session, ctx, on, treated_patient):
    # Six months after 2025-11-17 is Sunday 17 May, Norway's national day: the control is
    # booked on a working day, and the worklist shows both days, each in its own field.
    patient = treated_patient("2025-11-17")
    planned = exam(patient, "ct_tap", 6)
    assert planned.due != planned.due_working_day
    [item] = worklist(session, on("2026-05-01"), [patient.clinic_id]).items
    assert (item.due, item.due_working_day) == (planned.due, planned.due_working_day)
    assert (item.birth_date, item.name, item.reference) == (
        patient.birth_date,
        patient.name,
        "P-0001",
    )


def test_a_done_control_leaves_the_worklist(session, ctx, on, treated_patient):
    patient = treated_patient("2025-01-15")
    record_result(
        session, ctx, exam(patient, "ct_tap", 6).id, done_date="2025-07-15", result="normal"
    )
    record_result(session, ctx, exam(patient, "cea", 6).id, done_date="2025-07-15", value="1")
    assert worklist(session, on("2025-08-15"), [patient.clinic_id]).total == 0


def test_an_ended_surveillance_leaves_the_worklist(session, ctx, on, treated_patient):
    patient = treated_patient("2025-01-15")
    end_surveillance(session, ctx, patient.id, status="deceased")
    assert worklist(session, on("2025-08-15"), [patient.clinic_id]).total == 0


# -- order and grouping ---------------------------------------------------------------------


def test_overdue_first_then_results_missing_to_book_and_booked(session, ctx, on, treated_patient):
    to_book = treated_patient("2025-06-01")  # due 2025-12-01
    booked = treated_patient("2025-05-20")  # due 2025-11-20
    results_missing = treated_patient("2025-04-20")  # due 2025-10-20
    overdue_later = treated_patient("2025-03-01")  # due 2025-09-01
    overdue = treated_patient("2025-01-15")  # due 2025-07-15
    for patient, day in ((booked, "2025-11-18"), (results_missing, "2025-10-27")):
        for code in ("cea", "ct_tap"):
            record_booking(session, ctx, exam(patient, code, 6).id, date=day)
    page = worklist(session, on("2025-11-01"), [to_book.clinic_id])
    assert [(i.category, i.patient_id) for i in page.items] == [
        ("overdue", overdue.id),  # the most late first
        ("overdue", overdue_later.id),
        ("results_missing", results_missing.id),
        ("to_book", to_book.id),
        ("booked", booked.id),
    ]
    assert page.counts == {
        "overdue": 2,
        "results_missing": 1,
        "to_book": 1,
        "booked": 1,
        "coordinated": 0,
        "on_hold": 0,
        "mdt_review": 0,
        "booking_to_cancel": 0,
        # R14 is stored as the engine answered on the day of the last change (ctx: 2026-06-01):
        # the three patients treated before 2025-06 then had two overdue controls in a row.
        "lost_to_follow_up": 3,
    }
    assert page.total == 5


def test_a_control_splits_when_its_exams_differ(session, ctx, on, treated_patient):
    patient = treated_patient("2025-01-15")
    record_booking(session, ctx, exam(patient, "ct_tap", 6).id, date="2025-07-14")
    page = worklist(session, on("2025-07-01"), [patient.clinic_id])
    assert [(i.category, i.codes) for i in page.items] == [
        ("to_book", ("cea",)),
        ("booked", ("ct_tap",)),
    ]


def test_the_liver_ct_after_ablation_is_a_control_of_its_own(session, ctx, on, treated_patient):
    patient = treated_patient("2025-03-31", "ablation")
    page = worklist(session, on("2025-06-01"), [patient.clinic_id])
    assert [(i.category, i.codes, i.due) for i in page.items] == [
        ("to_book", ("ct_liver",), D("2025-06-30"))
    ]


# -- filters and pages -----------------------------------------------------------------------


@pytest.fixture
def busy_clinic(session, ctx, treated_patient):
    """Two overdue controls, one booked, and three to book, on 2025-11-01."""
    patients = [
        treated_patient(day)
        for day in (
            "2025-01-15",
            "2025-03-01",
            "2025-05-20",
            "2025-05-25",
            "2025-06-01",
            "2025-06-10",
        )
    ]
    for code in ("cea", "ct_tap"):
        record_booking(session, ctx, exam(patients[2], code, 6).id, date="2025-11-18")
    return patients


@pytest.mark.parametrize(
    "category, expected",
    [
        ("overdue", ["P-0001", "P-0002"]),
        ("results_missing", []),
        ("to_book", ["P-0004", "P-0005", "P-0006"]),
        ("booked", ["P-0003"]),
    ],
)
def test_filter_by_category(session, on, busy_clinic, category, expected):
    page = worklist(session, on("2025-11-01"), [busy_clinic[0].clinic_id], category=category)
    assert [i.reference for i in page.items] == expected
    assert {i.category for i in page.items} <= {category}
    assert page.total == page.counts[category] == len(expected)
    assert page.counts["to_book"] == 3  # the counts of the other lists stay


def test_filter_by_exam_code(session, ctx, on, busy_clinic):
    record_result(
        session, ctx, exam(busy_clinic[0], "cea", 6).id, done_date="2025-07-20", value="2"
    )
    clinic_ids = [busy_clinic[0].clinic_id]
    cea = worklist(session, on("2025-11-01"), clinic_ids, code="cea")
    assert {i.codes for i in cea.items} == {("cea",)}
    assert cea.counts["overdue"] == 1  # the first patient's CEA is done
    ct_tap = worklist(session, on("2025-11-01"), clinic_ids, code="ct_tap", category="overdue")
    assert [(i.reference, i.codes) for i in ct_tap.items] == [
        ("P-0001", ("ct_tap",)),
        ("P-0002", ("ct_tap",)),
    ]


def test_pages(session, on, busy_clinic):
    clinic_ids, today = [busy_clinic[0].clinic_id], on("2025-11-01")
    everything = rows(worklist(session, today, clinic_ids))
    pages = [worklist(session, today, clinic_ids, page=n, page_size=4) for n in (1, 2, 3)]
    assert [len(p.items) for p in pages] == [4, 2, 0]
    assert rows(pages[0]) + rows(pages[1]) == everything
    assert {(p.total, p.page, p.page_size) for p in pages[:1]} == {(6, 1, 4)}
    assert pages[1].page == 2 and pages[1].total == 6
    second = worklist(session, today, clinic_ids, category="to_book", page=2, page_size=2)
    assert [i.reference for i in second.items] == ["P-0006"]


# -- scope: a clinic sees its own patients only ------------------------------------------------


def test_a_patient_of_another_clinic_never_appears(session, ctx, on, treated_patient, other_clinic):
    ours = treated_patient("2025-01-15")
    theirs = treated_patient("2025-01-15", clinic_code="OTHER")
    record_booking(session, ctx, exam(theirs, "cea", 12).id, date="2026-01-20")
    record_treatment(session, ctx, theirs.id, date="2026-03-10", kind="resection")
    # R12: a CEA a month before the new plan's first control is an extra measurement.
    record_measurement(session, ctx, theirs.id, date="2026-05-01", value="9")
    today = on("2025-08-15")
    page = worklist(session, today, [ours.clinic_id])
    assert [i.patient_id for i in page.items] == [ours.id]
    assert page.counts == {
        "overdue": 1,
        "results_missing": 0,
        "to_book": 0,
        "booked": 0,
        "coordinated": 0,
        "on_hold": 0,
        "mdt_review": 0,
        "booking_to_cancel": 0,
        "lost_to_follow_up": 1,  # ours, as of the day recorded (2026-06-01)
    }
    assert [i.patient_id for i in worklist(session, today, [other_clinic.id]).items] == []
    assert worklist(session, today, [other_clinic.id]).counts["booking_to_cancel"] == 1
    assert worklist(session, today, [other_clinic.id]).counts["mdt_review"] == 1
    both = worklist(session, today, [ours.clinic_id, other_clinic.id])
    assert both.counts["mdt_review"] == 1 and both.counts["overdue"] == 1


def test_the_mdt_review_count(session, ctx, on, treated_patient):
    flagged = [treated_patient() for _ in range(3)]
    for patient, value in zip(flagged, ("5,5", "4,9", "12")):
        record_result(session, ctx, exam(patient, "cea", 6).id, done_date="2025-07-20", value=value)
    assert worklist(session, ctx, [flagged[0].clinic_id]).counts["mdt_review"] == 2


@pytest.mark.parametrize(
    "arguments, field",
    [
        ({"category": "later"}, "category"),  # no such list: not a KeyError
        ({"code": "mri_brain"}, "code"),  # not an empty list that looks like no work
        ({"page": 0}, "page"),  # not a negative OFFSET (PostgreSQL refuses it)
        ({"page_size": 0}, "page_size"),
    ],
)
def test_worklist_refuses_bad_arguments(session, ctx, treated_patient, arguments, field):
    patient = treated_patient()
    with pytest.raises(InputError) as refused:
        worklist(session, ctx, [patient.clinic_id], **arguments)
    assert refused.value.field == field


def test_a_missed_exam_waits_on_the_worklist_until_rebooked_or_cancelled(
    session, ctx, treated_patient
):
    from dataclasses import replace

    from surveillance.services import cancel_exam, record_booking, record_missed

    patient = treated_patient()  # resection 2025-01-15: 6 months due 2025-07-15
    six = [e for e in patient.exams if e.month == 6]
    at_due = replace(ctx, today=six[0].due)
    for exam in six:
        record_booking(session, at_due, exam.id, date=exam.due)
        record_missed(session, at_due, exam.id, reason="Møtte ikke")
    (item,) = worklist(session, at_due, [patient.clinic_id]).items
    assert (item.category, item.due) == ("to_book", six[0].due)  # to be booked again
    later = replace(ctx, today=six[0].due + timedelta(days=31))
    assert worklist(session, later, [patient.clinic_id]).items[0].category == "overdue"
    for exam in six:
        cancel_exam(session, later, exam.id, reason="Pasienten ønsker ikke denne kontrollen")
    assert all(i.due != six[0].due for i in worklist(session, later, [patient.clinic_id]).items)


def test_a_control_booked_on_two_days_follows_each_exam(session, ctx, on, treated_patient):
    """R10 lists each exam: the CEA's results are missing after its day, the CT still booked."""
    patient = treated_patient("2025-01-15")
    record_booking(session, ctx, exam(patient, "cea", 6).id, date="2025-07-10")
    record_booking(session, ctx, exam(patient, "ct_tap", 6).id, date="2025-07-14")
    page = worklist(session, on("2025-07-12"), [patient.clinic_id])
    assert [(i.category, i.codes, i.booked_date) for i in page.items] == [
        ("results_missing", ("cea",), D("2025-07-10")),
        ("booked", ("ct_tap",), D("2025-07-14")),
    ]
    assert (page.counts["results_missing"], page.counts["booked"]) == (1, 1)
    later = worklist(session, on("2025-07-15"), [patient.clinic_id])
    assert [(i.category, i.codes) for i in later.items] == [
        ("results_missing", ("cea",)),
        ("results_missing", ("ct_tap",)),
    ]
