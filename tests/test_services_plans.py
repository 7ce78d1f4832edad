"""Plans on the database: treatments anchor and re-plan (R2-R7), primary controls coordinate."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
import sqlalchemy as sa

from surveillance.db.models import Base, Patient, PlannedExam
from surveillance.services import (
    Conflict,
    InputError,
    NotFound,
    confirm_booking_cancelled,
    correct_treatment,
    delete_treatment,
    record_booking,
    record_primary_control,
    record_result,
    record_treatment,
    worklist,
)

D = date.fromisoformat


def database_contents(session) -> dict[str, list[tuple]]:
    """Every row of every table, to show that a refused call changed nothing."""
    return {
        table.name: session.execute(sa.select(table).order_by(*table.primary_key)).all()
        for table in Base.metadata.sorted_tables
    }


def stored_exams(session, patient_id: int) -> list[PlannedExam]:
    """The patient's exams as the database has them now."""
    session.expire_all()
    return list(
        session.scalars(
            sa.select(PlannedExam)
            .where(PlannedExam.patient_id == patient_id)
            .order_by(PlannedExam.due, PlannedExam.code, PlannedExam.id)
        )
    )


def plan_of(exams) -> list[tuple]:
    return [(e.code, e.month, e.due.isoformat(), e.due_working_day.isoformat()) for e in exams]


def exam(patient: Patient, code: str, month: int, state: str = "open") -> PlannedExam:
    """The patient's exam of a code and month (of the current plan, when several share them)."""
    found = [e for e in patient.exams if (e.code, e.month) == (code, month) and e.state == state]
    assert len(found) == 1, found
    return found[0]


# -- the worked examples of protocol.md, stored ----------------------------------------------

EXAMPLE_1 = [  # resection 2025-01-15
    (code, month, due, working_day)
    for month, due, working_day in [
        (6, "2025-07-15", "2025-07-15"),
        (12, "2026-01-15", "2026-01-15"),
        (18, "2026-07-15", "2026-07-15"),
        (24, "2027-01-15", "2027-01-15"),
        (30, "2027-07-15", "2027-07-15"),
        (36, "2028-01-15", "2028-01-17"),  # a Saturday: booked on Monday
        (48, "2029-01-15", "2029-01-15"),
        (60, "2030-01-15", "2030-01-15"),
    ]
    for code in ("cea", "ct_tap")
]

EXAMPLE_2 = sorted(
    [  # ablation 2025-03-31
        ("ct_liver", 3, "2025-06-30", "2025-06-30"),
        ("ct_liver", 9, "2025-12-31", "2025-12-31"),  # New Year's Eve is a working day
        *[
            (code, month, due, working_day)
            for month, due, working_day in [
                (6, "2025-09-30", "2025-09-30"),
                (12, "2026-03-31", "2026-03-31"),
                (18, "2026-09-30", "2026-09-30"),
                (24, "2027-03-31", "2027-03-31"),
                (30, "2027-09-30", "2027-09-30"),
                (36, "2028-03-31", "2028-03-31"),
                (48, "2029-03-31", "2029-04-03"),  # a Saturday before Easter Monday
                (60, "2030-03-31", "2030-04-01"),  # a Sunday
            ]
            for code in ("cea", "ct_tap")
        ],
    ],
    key=lambda row: (row[2], row[0]),
)


@pytest.mark.parametrize(
    "treated, kind, expected",
    [
        ("2025-01-15", "resection", EXAMPLE_1),  # worked example 1: 16 exams
        ("2025-03-31", "ablation", EXAMPLE_2),  # worked example 2: 18 exams, end-of-month days
    ],
)
def test_a_treatment_stores_its_plan(session, ctx, treated_patient, treated, kind, expected):
    patient = treated_patient(treated, kind)
    exams = stored_exams(session, patient.id)
    assert plan_of(exams) == expected
    anchor = patient.treatments[0].id
    assert {(e.state, e.anchor_treatment_id, e.clinic_id) for e in exams} == {
        ("open", anchor, patient.clinic_id)
    }
    assert len({e.uid for e in exams}) == len(expected)


def test_worked_example_4_books_after_easter(session, ctx, treated_patient):
    patient = treated_patient("2025-10-02")
    first = stored_exams(session, patient.id)[0]
    assert (first.due, first.due_working_day) == (D("2026-04-02"), D("2026-04-07"))


@pytest.mark.parametrize(
    "kind, planned",
    [
        ("resection_with_ablation", 18),  # both in one session: the liver CTs are added
        ("pve", 0),  # portal vein embolisation is history only
        ("biopsy", 0),
        ("sbrt", 0),
    ],
)
def test_which_treatments_anchor_a_plan(session, ctx, treated_patient, kind, planned):
    patient = treated_patient("2025-03-31", kind)
    assert len(stored_exams(session, patient.id)) == planned


# -- worked example 3: a new resection supersedes the open part of the plan (R6) -------------


def test_worked_example_3_end_to_end(session, ctx, treated_patient):
    patient = treated_patient("2025-01-15")
    for month, done in ((6, "2025-07-20"), (12, "2026-01-19")):
        record_result(
            session, ctx, exam(patient, "ct_tap", month).id, done_date=done, result="normal"
        )
        record_result(session, ctx, exam(patient, "cea", month).id, done_date=done, value="3,2")
    booked = exam(patient, "ct_tap", 18)
    record_booking(session, ctx, booked.id, date="2026-07-14", time="09:30", place="Rtg Ullevål")
    done_before = [
        (e.id, e.state, e.done_date, e.result, e.result_value, e.sequence, e.version)
        for e in stored_exams(session, patient.id)
        if e.state == "done"
    ]
    old_open = [e.id for e in stored_exams(session, patient.id) if e.state != "done"]

    changes = record_treatment(session, ctx, patient.id, date="2026-03-10", kind="resection")

    exams = stored_exams(session, patient.id)
    assert (len(changes.create), len(changes.cancel)) == (16, 12)
    assert [
        (e.id, e.state, e.done_date, e.result, e.result_value, e.sequence, e.version)
        for e in exams
        if e.state == "done"
    ] == done_before
    assert [(e.code, e.month, e.result, e.result_value) for e in exams if e.state == "done"] == [
        ("cea", 6, None, 3.2),
        ("ct_tap", 6, "normal", None),
        ("cea", 12, None, 3.2),
        ("ct_tap", 12, "normal", None),
    ]
    cancelled = [e for e in exams if e.state == "cancelled"]
    assert sorted(e.id for e in cancelled) == sorted(old_open)
    assert {e.cancel_reason for e in cancelled} == {"superseded"}
    assert min(e.due for e in cancelled) == D("2026-07-15")
    assert [e.id for e in cancelled if e.booking_to_cancel] == [booked.id]
    new = [e for e in exams if e.state == "open"]
    assert len(new) == 16 and new[0].due == D("2026-09-10")
    assert {e.anchor_treatment_id for e in new} == {patient.treatments[-1].id}
    counts = worklist(session, ctx, [patient.clinic_id]).counts
    assert counts["booking_to_cancel"] == 1
    assert counts["overdue"] == counts["to_book"] == counts["booked"] == 0  # 2026-09-10 is ahead

    confirm_booking_cancelled(session, ctx, booked.id)
    assert worklist(session, ctx, [patient.clinic_id]).counts["booking_to_cancel"] == 0


@pytest.mark.parametrize(
    "older",
    [
        ("2024-11-20", "resection"),  # an earlier resection entered late
        # An earlier ablation whose liver CTs (2024-06-01, 2024-12-01) precede the anchor (R4).
        ("2024-03-01", "ablation"),
        ("2025-01-14", "transplant"),  # a transplant before the anchor does not end anything
    ],
)
def test_a_treatment_older_than_the_anchor_changes_no_exam(session, ctx, treated_patient, older):
    patient = treated_patient("2025-01-15")
    before = [
        (e.id, e.state, e.due, e.sequence, e.version) for e in stored_exams(session, patient.id)
    ]
    changes = record_treatment(session, ctx, patient.id, date=older[0], kind=older[1])
    assert not changes
    after = [
        (e.id, e.state, e.due, e.sequence, e.version) for e in stored_exams(session, patient.id)
    ]
    assert after == before
    assert session.get(Patient, patient.id).status == "active"


def test_an_ablation_entered_late_adds_its_liver_cts_due_after_the_anchor(
    session, ctx, treated_patient
):
    patient = treated_patient("2025-01-15")
    record_treatment(session, ctx, patient.id, date="2024-11-20", kind="ablation")
    liver = [
        (e.month, e.due, e.state) for e in stored_exams(session, patient.id) if e.code == "ct_liver"
    ]
    # R4 v2: month 3 (2025-02-20) and month 9 (2025-08-20) of the ablation, both after the
    # resection and more than 30 days from its CTs (2025-07-15, 2026-01-15).
    assert liver == [(3, date(2025, 2, 20), "open"), (9, date(2025, 8, 20), "open")]
    assert session.get(Patient, patient.id).status == "active"


@pytest.mark.parametrize(
    "first, second",
    [
        ("resection", "ablation"),  # ablation entered second
        ("ablation", "resection"),  # ablation entered first: order of entry does not matter
        ("resection", "resection_with_ablation"),
    ],
)
def test_same_day_resection_and_ablation_plan_the_liver_cts(
    session, ctx, treated_patient, first, second
):
    patient = treated_patient("2025-03-31", first)
    record_treatment(session, ctx, patient.id, date="2025-03-31", kind=second)
    open_exams = [e for e in stored_exams(session, patient.id) if e.state == "open"]
    assert plan_of(open_exams) == EXAMPLE_2
    anchor = next(t for t in patient.treatments if t.kind != "resection")
    assert {e.anchor_treatment_id for e in open_exams} == {anchor.id}


def test_a_transplant_ends_surveillance(session, ctx, treated_patient):
    patient = treated_patient("2025-01-15")
    record_result(session, ctx, exam(patient, "cea", 6).id, done_date="2025-07-20", value="2")
    record_booking(session, ctx, exam(patient, "ct_tap", 12).id, date="2026-01-20")
    record_treatment(session, ctx, patient.id, date="2026-02-01", kind="transplant")
    exams = stored_exams(session, patient.id)
    assert session.get(Patient, patient.id).status == "transplanted"
    assert [e.state for e in exams if e.code == "cea" and e.month == 6] == ["done"]
    assert {(e.state, e.cancel_reason) for e in exams[1:]} == {("cancelled", "transplanted")}
    assert [(e.code, e.month) for e in exams if e.booking_to_cancel] == [("ct_tap", 12)]
    assert worklist(session, ctx, [patient.clinic_id]).total == 0


# Each row: the treatment recorded after a flagged result, and whether the flag stays.
@pytest.mark.parametrize(
    "treated, kind, flagged",
    [
        ("2026-03-10", "resection", False),  # a re-resection is the MDT's decision
        ("2026-03-10", "ablation", False),
        ("2026-03-10", "transplant", False),  # ends surveillance, so nothing is left to review
        ("2026-03-10", "biopsy", True),  # a biopsy decides nothing
        ("2024-12-01", "resection", True),  # history from before the anchor decides nothing
    ],
)
def test_a_new_anchor_clears_the_mdt_flag(session, ctx, treated_patient, treated, kind, flagged):
    patient = treated_patient("2025-01-15")
    record_result(
        session, ctx, exam(patient, "ct_tap", 6).id, done_date="2025-07-20", result="suspicious"
    )
    assert patient.mdt_review
    record_treatment(session, ctx, patient.id, date=treated, kind=kind)
    session.expire_all()
    assert session.get(Patient, patient.id).mdt_review is flagged


def test_a_new_anchor_reopens_a_completed_surveillance(session, ctx, treated_patient):
    patient = treated_patient("2020-01-15")  # 60 months: 2025-01-15
    # R7 v2: completed only once every exam of the plan is done, not only the last control.
    for planned in stored_exams(session, patient.id):
        record_result(
            session,
            ctx,
            planned.id,
            done_date=planned.due.isoformat(),
            result="normal",
            value="1",
        )
    assert patient.status == "completed"
    record_treatment(session, ctx, patient.id, date="2026-02-01", kind="resection")
    assert session.get(Patient, patient.id).status == "active"


# -- correct_treatment and delete_treatment (R6) ---------------------------------------------


def test_correcting_the_date_moves_the_dues(session, ctx, treated_patient):
    patient = treated_patient("2025-01-15")
    record_result(session, ctx, exam(patient, "cea", 6).id, done_date="2025-07-20", value="1,5")
    record_booking(session, ctx, exam(patient, "ct_tap", 6).id, date="2025-07-22")
    before = {e.id: e.sequence for e in stored_exams(session, patient.id)}

    changes = correct_treatment(session, ctx, patient.treatments[0].id, date="2025-01-31")

    exams = stored_exams(session, patient.id)
    assert [e.id for e in exams] == list(before)  # the same exams, not new ones
    assert (len(changes.update), len(changes.create), len(changes.cancel)) == (15, 0, 0)
    done, booked, *moved = exams
    assert (done.due, done.state, done.sequence) == (D("2025-07-15"), "done", before[done.id])
    assert (booked.due, booked.state, booked.booked_date) == (
        D("2025-07-31"),
        "booked",
        D("2025-07-22"),
    )
    assert [(e.month, e.due) for e in moved[::2]] == [
        (12, D("2026-01-31")),
        (18, D("2026-07-31")),
        (24, D("2027-01-31")),
        (30, D("2027-07-31")),
        (36, D("2028-01-31")),
        (48, D("2029-01-31")),
        (60, D("2030-01-31")),
    ]
    assert all(e.sequence == before[e.id] + 1 for e in [booked, *moved])


def test_correcting_the_kind_to_ablation_adds_the_liver_cts(session, ctx, treated_patient):
    patient = treated_patient("2025-03-31", "resection")
    correct_treatment(session, ctx, patient.treatments[0].id, kind="ablation")
    open_exams = [e for e in stored_exams(session, patient.id) if e.state == "open"]
    assert plan_of(open_exams) == EXAMPLE_2


def test_correcting_the_kind_to_transplant_ends_surveillance(session, ctx, treated_patient):
    patient = treated_patient("2025-01-15")
    correct_treatment(session, ctx, patient.treatments[0].id, kind="transplant")
    exams = stored_exams(session, patient.id)
    assert session.get(Patient, patient.id).status == "transplanted"
    assert {(e.state, e.cancel_reason) for e in exams} == {("cancelled", "transplanted")}


def test_deleting_the_new_anchor_brings_the_old_plan_back(session, ctx, treated_patient):
    patient = treated_patient("2025-01-15")
    record_result(session, ctx, exam(patient, "cea", 6).id, done_date="2025-07-20", value="2")
    old = {e.id: (e.state, e.due) for e in stored_exams(session, patient.id)}
    record_treatment(session, ctx, patient.id, date="2026-03-10", kind="resection")
    mistake = patient.treatments[-1]

    delete_treatment(session, ctx, mistake.id)

    exams = stored_exams(session, patient.id)
    assert {e.id: (e.state, e.due) for e in exams if e.anchor_treatment_id != mistake.id} == old
    assert {e.cancel_reason for e in exams if e.anchor_treatment_id != mistake.id} == {None}
    new = [e for e in exams if e.anchor_treatment_id == mistake.id]
    assert len(new) == 16
    assert {(e.state, e.cancel_reason) for e in new} == {("cancelled", "superseded")}
    assert mistake.voided_at is not None  # kept as history, not deleted


@pytest.mark.parametrize(
    "cancelled_by_nurse, state, booked_date, to_cancel",
    [
        # the appointment was never cancelled: it holds again
        (False, "booked", D("2026-07-14"), False),
        # the nurse had cancelled it: the exam must be booked anew
        (True, "open", None, False),
    ],
)
def test_deleting_the_new_anchor_brings_a_booking_back(
    session, ctx, treated_patient, cancelled_by_nurse, state, booked_date, to_cancel
):
    patient = treated_patient("2025-01-15")
    booked = exam(patient, "ct_tap", 18)
    record_booking(session, ctx, booked.id, date="2026-07-14")
    record_treatment(session, ctx, patient.id, date="2026-03-10", kind="resection")
    if cancelled_by_nurse:
        confirm_booking_cancelled(session, ctx, booked.id)
    delete_treatment(session, ctx, patient.treatments[-1].id)
    session.expire_all()
    restored = session.get(PlannedExam, booked.id)
    assert (restored.state, restored.booked_date, restored.booking_to_cancel) == (
        state,
        booked_date,
        to_cancel,
    )
    assert worklist(session, ctx, [patient.clinic_id]).counts["booking_to_cancel"] == 0


def test_deleting_the_only_treatment_cancels_the_plan(session, ctx, treated_patient):
    patient = treated_patient("2025-01-15")
    delete_treatment(session, ctx, patient.treatments[0].id)
    assert {e.state for e in stored_exams(session, patient.id)} == {"cancelled"}
    assert worklist(session, ctx, [patient.clinic_id]).total == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda s, c, t: correct_treatment(
            s, c, t, date="2025-02-01"
        ),  # correct a deleted treatment
        lambda s, c, t: delete_treatment(s, c, t),  # delete it twice
    ],
    ids=["correct_treatment", "delete_treatment"],
)
def test_a_deleted_treatment_is_not_found(session, ctx, treated_patient, call):
    patient = treated_patient("2025-01-15")
    treatment_id = patient.treatments[0].id
    delete_treatment(session, ctx, treatment_id)
    before = database_contents(session)
    with pytest.raises(NotFound):
        call(session, ctx, treatment_id)
    with pytest.raises(NotFound):
        call(session, ctx, treatment_id + 1000)
    assert database_contents(session) == before


# -- primary-tumour controls (R8) ------------------------------------------------------------


def test_a_primary_control_coordinates_open_exams_but_not_booked_ones(
    session, ctx, treated_patient
):
    patient = treated_patient("2025-01-15")
    record_booking(session, ctx, exam(patient, "ct_tap", 6).id, date="2025-07-14")
    on_july_1st = dataclasses.replace(ctx, today=D("2025-07-01"))
    assert worklist(session, on_july_1st, [patient.clinic_id]).counts["to_book"] == 1

    record_primary_control(
        session, ctx, patient.id, date="2025-07-01", exams="ct_tap cea colonoscopy"
    )

    control = patient.primary_controls[0]
    exams = stored_exams(session, patient.id)
    cea, ct_tap = exams[:2]
    assert (cea.code, cea.coordinated_date, cea.coordinated_with_id) == (
        "cea",
        D("2025-07-01"),
        control.id,
    )
    assert cea.due == D("2025-07-15")  # the due date stays as computed
    assert (ct_tap.state, ct_tap.coordinated_with_id, ct_tap.coordinated_date) == (
        "booked",
        None,
        None,
    )
    assert {e.coordinated_with_id for e in exams[2:]} == {None}  # too far from 2025-07-01
    page = worklist(session, on_july_1st, [patient.clinic_id])
    # R8 v2: the coordinated CEA stays on the worklist, listed "coordinated" (issue 9, case 1).
    assert [(i.category, i.codes) for i in page.items] == [
        ("booked", ("ct_tap",)),
        ("coordinated", ("cea",)),
    ]
    assert page.counts["to_book"] == 0


# Each row: the day of a primary control with a CEA, and whether it coordinates the 6-month CEA.
@pytest.mark.parametrize(
    "day, coordinated",
    [
        ("2025-06-15", True),  # 30 days before the due date: inside the window
        ("2025-06-14", False),  # 31 days before
        ("2025-08-14", True),  # 30 days after
        ("2025-08-15", False),  # 31 days after
    ],
)
def test_the_coordination_window(session, ctx, treated_patient, day, coordinated):
    patient = treated_patient("2025-01-15")
    record_primary_control(session, ctx, patient.id, date=day, exams=["cea"])
    cea = exam(patient, "cea", 6)
    assert (cea.coordinated_date == D(day)) is coordinated


def test_a_primary_control_can_be_scheduled_ahead(session, ctx, treated_patient):
    patient = treated_patient("2026-03-10")
    record_primary_control(session, ctx, patient.id, date="2026-09-01", exams="ct_tap cea")
    assert {e.coordinated_date for e in stored_exams(session, patient.id) if e.month == 6} == {
        D("2026-09-01")
    }


# -- bad input and stale forms change nothing ------------------------------------------------


def _treatment_id(patient):
    return patient.treatments[0].id


# Each row: a call with one bad value, and the field and value the refusal must name.
REFUSED_CALLS = [
    # 30 February
    (
        lambda s, c, p: record_treatment(s, c, p.id, date="2025-02-30", kind="resection"),
        "date",
        "2025-02-30",
    ),
    # a Norwegian-style date, not ISO
    (
        lambda s, c, p: record_treatment(s, c, p.id, date="15.01.2025", kind="resection"),
        "date",
        "15.01.2025",
    ),
    # before the patient was born (1960-05-17)
    (
        lambda s, c, p: record_treatment(s, c, p.id, date="1960-05-16", kind="resection"),
        "date",
        "1960-05-16",
    ),
    # tomorrow
    (
        lambda s, c, p: record_treatment(s, c, p.id, date="2026-06-02", kind="resection"),
        "date",
        "2026-06-02",
    ),
    # a kind the protocol does not know
    (
        lambda s, c, p: record_treatment(s, c, p.id, date="2026-03-10", kind="hepatectomy"),
        "kind",
        "hepatectomy",
    ),
    # a note longer than a note may be
    (
        lambda s, c, p: record_treatment(
            s, c, p.id, date="2026-03-10", kind="resection", note="n" * 2001
        ),
        "note",
        "nnnn",
    ),
    # 29 February in a common year
    (
        lambda s, c, p: correct_treatment(s, c, _treatment_id(p), date="2025-02-29"),
        "date",
        "2025-02-29",
    ),
    # corrected into the future
    (
        lambda s, c, p: correct_treatment(s, c, _treatment_id(p), date="2027-01-15"),
        "date",
        "2027-01-15",
    ),
    # corrected to before birth
    (
        lambda s, c, p: correct_treatment(s, c, _treatment_id(p), date="1925-01-15"),
        "date",
        "1925-01-15",
    ),
    # a good date with a bad kind: the date is not kept either
    (
        lambda s, c, p: correct_treatment(
            s, c, _treatment_id(p), date="2025-02-01", kind="liver_transplant"
        ),
        "kind",
        "liver_transplant",
    ),
    # an exam code nobody knows
    (
        lambda s, c, p: record_primary_control(
            s, c, p.id, date="2025-07-01", exams="ct_tap mri_brain"
        ),
        "exams",
        "mri_brain",
    ),
    # no exam at all
    (
        lambda s, c, p: record_primary_control(s, c, p.id, date="2025-07-01", exams=[]),
        "exams",
        "[]",
    ),
    # 31 June
    (
        lambda s, c, p: record_primary_control(s, c, p.id, date="2025-06-31", exams="cea"),
        "date",
        "2025-06-31",
    ),
    # before birth
    (
        lambda s, c, p: record_primary_control(s, c, p.id, date="1960-01-01", exams="cea"),
        "date",
        "1960-01-01",
    ),
]


@pytest.mark.parametrize("call, field, value", REFUSED_CALLS)
def test_bad_input_to_treatment_verbs_changes_nothing(
    session, ctx, treated_patient, call, field, value
):
    patient = treated_patient("2025-01-15")
    before = database_contents(session)
    with pytest.raises(InputError) as refused:
        call(session, ctx, patient)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ") and value in str(refused.value)
    assert database_contents(session) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda s, c, p, v: correct_treatment(
            s, c, _treatment_id(p), date="2025-01-20", expected_version=v
        ),
        lambda s, c, p, v: delete_treatment(s, c, _treatment_id(p), expected_version=v),
    ],
    ids=["correct_treatment", "delete_treatment"],
)
def test_a_stale_treatment_form_is_refused(session, ctx, treated_patient, call):
    patient = treated_patient("2025-01-15")
    shown = patient.version
    record_treatment(session, ctx, patient.id, date="2025-03-01", kind="pve")  # another nurse
    before = database_contents(session)
    with pytest.raises(Conflict):
        call(session, ctx, patient, shown)
    assert database_contents(session) == before
