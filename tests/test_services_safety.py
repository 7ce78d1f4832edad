"""Issue 9's eight cases, corrections (R12), decisions (R13) and primary controls (R8 v2),
through the services on both databases, each held to `surveillance preview` where it can."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest
import sqlalchemy as sa

from surveillance.db.models import AuditEvent, Patient, PlannedExam
from surveillance.preview import preview
from surveillance.services import (
    InputError,
    cancel_exam,
    correct_primary_control,
    correct_result,
    delete_primary_control,
    record_booking,
    record_decision,
    record_measurement,
    record_missed,
    record_primary_control,
    record_result,
    record_treatment,
    withdraw,
    withdraw_cancellation,
    withdraw_decision,
    withdraw_missed,
    withdraw_result,
    worklist,
)
from surveillance.services.refresh import refresh_patients

D = date.fromisoformat


@pytest.fixture
def on(ctx):
    """The context on another day."""
    return lambda day: dataclasses.replace(ctx, today=D(day))


def exams(session, patient_id: int) -> list[PlannedExam]:
    """The patient's stored exams, fresh from the database."""
    session.expire_all()
    return list(
        session.scalars(
            sa.select(PlannedExam)
            .where(PlannedExam.patient_id == patient_id)
            .order_by(PlannedExam.due, PlannedExam.code, PlannedExam.id)
        )
    )


def exam(session, patient, code: str, due: str) -> PlannedExam:
    """The stored exam of a code due on a day (not cancelled by a re-plan)."""
    return next(
        e
        for e in exams(session, patient.id)
        if (e.code, e.due) == (code, D(due)) and e.cancel_reason in (None, "by_clinic")
    )


def categories(session, ctx, patient) -> dict[str, str]:
    """Due date -> worklist category of each of the patient's controls on the list."""
    page = worklist(session, ctx, [patient.clinic_id], page_size=200)
    return {i.due.isoformat(): i.category for i in page.items if i.patient_id == patient.id}


def patient_row(session, patient) -> Patient:
    session.expire_all()
    return session.get(Patient, patient.id)


# --- Case 1: a planned primary control no longer hides a due liver control -----------------


def test_case_1_a_planned_primary_control_keeps_the_control_on_the_worklist(
    session, ctx, on, treated_patient
):
    patient = treated_patient("2025-12-01")
    assert categories(session, ctx, patient)["2026-06-01"] == "to_book"
    changes = record_primary_control(
        session, ctx, patient.id, date="2026-06-25", exams=["ct_tap", "cea"]
    )
    assert changes.update  # both month-6 exams now coordinated
    assert categories(session, ctx, patient)["2026-06-01"] == "coordinated"
    assert categories(session, on("2026-06-28"), patient)["2026-06-01"] == "results_missing"
    assert categories(session, on("2026-07-02"), patient)["2026-06-01"] == "overdue"


def test_case_1_a_primary_control_can_be_moved_and_deleted(session, ctx, treated_patient):
    patient = treated_patient("2025-12-01")
    record_primary_control(session, ctx, patient.id, date="2026-06-25", exams="ct_tap cea")
    control = patient_row(session, patient).primary_controls[0]
    # Moved 60 days away: the exams return to their own timing.
    correct_primary_control(session, ctx, control.id, date="2026-08-01", reason="wrong month")
    assert categories(session, ctx, patient)["2026-06-01"] == "to_book"
    correct_primary_control(session, ctx, control.id, date="2026-06-20", reason="right date")
    assert categories(session, ctx, patient)["2026-06-01"] == "coordinated"
    delete_primary_control(session, ctx, control.id, reason="entered on the wrong patient")
    assert categories(session, ctx, patient)["2026-06-01"] == "to_book"
    actions = session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-3:] == [
        "primary_control.correct",
        "primary_control.correct",
        "primary_control.delete",
    ]
    last = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last.details["before"]["date"] == "2026-06-20"
    assert last.details["reason"] == "entered on the wrong patient"


# --- Case 2: a finding at a primary control reaches the MDT list ---------------------------


@pytest.mark.parametrize(
    ("results", "reason"),
    [
        # A CEA of 8 at the primary control: over the limit.
        ({"ct_tap": "normal", "cea": "8"}, "cea_high cea 2026-05-28 8"),
        # A suspicious CT at the primary control.
        ({"ct_tap": "suspicious", "cea": "2"}, "ct_suspicious ct_tap 2026-05-28"),
    ],
)
def test_case_2_a_finding_at_a_primary_control_flags_the_patient(
    session, ctx, treated_patient, results, reason
):
    patient = treated_patient("2025-12-01")
    record_primary_control(
        session, ctx, patient.id, date="2026-05-28", exams=["ct_tap", "cea"], done=True,
        results=results,
    )  # fmt: skip
    row = patient_row(session, patient)
    assert (row.mdt_review, row.mdt_reason) == (True, reason)
    # Both month-6 exams are done on the control's date with its results (R8 v2).
    done = [(e.code, e.state, e.done_date) for e in exams(session, patient.id)[:2]]
    assert done == [("cea", "done", D("2026-05-28")), ("ct_tap", "done", D("2026-05-28"))]


def test_a_primary_control_done_without_the_ct_leaves_it_results_missing(
    session, ctx, treated_patient
):
    patient = treated_patient("2025-12-01")
    record_primary_control(
        session, ctx, patient.id, date="2026-05-28", exams="ct_tap cea", done=True,
        results={"cea": "2,0"},
    )  # fmt: skip
    assert categories(session, ctx, patient)["2026-06-01"] == "results_missing"
    assert exam(session, patient, "cea", "2026-06-01").state == "done"


# --- Case 3: a coordinated 60-month control completes surveillance -------------------------


def test_case_3_a_coordinated_last_control_completes(session, on, treated_patient):
    day = on("2025-03-20")
    patient = treated_patient("2020-03-15")
    for planned in exams(session, patient.id):
        if planned.month < 60:
            record_result(
                session, day, planned.id, done_date=planned.due.isoformat(), result="normal",
                value="1",
            )  # fmt: skip
    assert patient_row(session, patient).status == "active"
    record_primary_control(
        session, day, patient.id, date="2025-03-10", exams="ct_tap cea", done=True,
        results={"ct_tap": "normal", "cea": "1,1"},
    )  # fmt: skip
    assert patient_row(session, patient).status == "completed"
    assert {e.state for e in exams(session, patient.id)} == {"done"}


# --- Case 4: never completed while a control is missed -------------------------------------


def test_case_4_a_missed_control_keeps_surveillance_active(session, on, treated_patient):
    day = on("2025-03-20")
    patient = treated_patient("2020-03-15")
    for planned in exams(session, patient.id):
        if planned.month == 48:
            record_missed(session, day, planned.id, reason="did not come")
        elif planned.month == 60:
            cancel_exam(session, day, planned.id, reason="patient declined the CT")
        else:
            record_result(
                session, day, planned.id, done_date=planned.due.isoformat(), result="normal",
                value="1",
            )  # fmt: skip
    assert patient_row(session, patient).status == "active"
    assert categories(session, day, patient) == {"2024-03-15": "overdue"}


# --- Case 5: an ablation's liver CTs survive a later resection -----------------------------


def test_case_5_the_ablations_9_month_liver_ct_stays(session, ctx, treated_patient):
    patient = treated_patient("2025-01-15", "ablation")
    record_treatment(session, ctx, patient.id, date="2025-06-02", kind="resection")
    liver = [(e.due, e.state, e.cancel_reason) for e in exams(session, patient.id) if e.code == "ct_liver"]  # fmt: skip
    assert liver == [
        (D("2025-04-15"), "cancelled", "superseded"),  # before the resection
        (D("2025-10-15"), "open", None),  # the ablation's month 9 stays
    ]


# --- Case 6: the database agrees with preview after a transplant ---------------------------


def test_case_6_a_resection_after_a_transplant_starts_a_plan(session, ctx, create_patient):
    patient = create_patient()
    record_treatment(session, ctx, patient.id, date="2024-06-01", kind="transplant")
    assert patient_row(session, patient).status == "transplanted"
    record_treatment(session, ctx, patient.id, date="2026-02-02", kind="resection")
    stored = [e for e in exams(session, patient.id) if e.state == "open"]
    facts = {
        "today": ctx.today.isoformat(),
        "treatments": [
            {"date": "2024-06-01", "kind": "transplant"},
            {"date": "2026-02-02", "kind": "resection"},
        ],
    }
    expected = preview(json.dumps(facts))
    assert patient_row(session, patient).status == expected["status"] == "active"
    assert [(e.code, e.due.isoformat()) for e in stored] == [
        (e["kind"], e["due"]) for e in expected["exams"]
    ]
    assert len(stored) == 16


# --- Case 7: a steadily rising CEA under 5.0 alerts ----------------------------------------


def test_case_7_a_rising_cea_under_the_limit_flags(session, ctx, treated_patient):
    patient = treated_patient("2023-06-01")
    dues = ["2023-12-01", "2024-06-01", "2024-12-01", "2025-06-01", "2025-12-01"]
    for due, value in zip(dues, ["1,2", "2,0", "2,9", "3,9", "4,8"], strict=True):
        record_result(
            session, ctx, exam(session, patient, "cea", due).id, done_date=due, value=value
        )
    row = patient_row(session, patient)
    assert row.mdt_review
    assert row.mdt_reason == "cea_rising cea 2025-12-01 2.9 3.9 4.8"


# --- Case 8: corrections and the date guards -----------------------------------------------


def test_case_8_a_result_a_missed_mark_and_a_cancellation_can_be_undone(
    session, ctx, treated_patient
):
    patient = treated_patient("2025-06-02")
    ct = exam(session, patient, "ct_tap", "2025-12-02")
    record_result(session, ctx, ct.id, done_date="2025-12-02", result="suspicious")
    assert patient_row(session, patient).mdt_review
    withdraw_result(session, ctx, ct.id, reason="the reading belonged to another patient")
    assert (exam(session, patient, "ct_tap", "2025-12-02").state, patient_row(session, patient).mdt_review) == ("open", False)  # fmt: skip
    record_missed(session, ctx, ct.id, reason="ill")
    withdraw_missed(session, ctx, ct.id, reason="she came after all")
    assert exam(session, patient, "ct_tap", "2025-12-02").state == "open"
    cancel_exam(session, ctx, ct.id, reason="declined")
    withdraw_cancellation(session, ctx, ct.id, reason="changed her mind")
    assert exam(session, patient, "ct_tap", "2025-12-02").state == "open"
    events = session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.action.like("exam.withdraw%"))
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.details["before"]["state"], e.details["after"]["state"]) for e in events] == [
        ("done", "open"),
        ("missed", "open"),
        ("cancelled", "open"),
    ]


def test_withdrawing_a_fact_it_does_not_know_names_it_and_changes_nothing(
    session, ctx, treated_patient
):
    patient = treated_patient("2025-06-02")
    ct = exam(session, patient, "ct_tap", "2025-12-02")
    record_result(session, ctx, ct.id, done_date="2025-12-02", result="normal")
    with pytest.raises(InputError, match=r"^fact: 'note' is not one of result, missed, "):
        withdraw(session, ctx, ct.id, fact="note", reason="x")
    assert exam(session, patient, "ct_tap", "2025-12-02").state == "done"


def test_case_8_a_result_can_be_corrected_with_old_and_new_audited(session, ctx, treated_patient):
    patient = treated_patient("2025-06-02")
    cea = exam(session, patient, "cea", "2025-12-02")
    record_result(session, ctx, cea.id, done_date="2025-12-02", value="72")
    assert patient_row(session, patient).mdt_review
    correct_result(
        session, ctx, cea.id, done_date="2025-12-02", value="7,2", reason="comma slipped"
    )
    correct_result(
        session, ctx, cea.id, done_date="2025-12-02", value="2,7", reason="digits swapped"
    )
    assert patient_row(session, patient).mdt_review is False
    last = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (last.details["before"]["value"], last.details["after"]["value"]) == (7.2, 2.7)


def test_case_8_a_cea_long_before_its_control_is_refused(session, on, create_patient):
    day = on("2026-11-30")
    patient = create_patient()
    record_treatment(
        session, day, patient.id, date="2026-11-02", kind="resection"
    )  # due 2027-05-02
    cea = exam(session, patient, "cea", "2027-05-02")
    with pytest.raises(InputError) as refused:
        record_result(session, day, cea.id, done_date="2026-11-30", value="3")
    assert refused.value.field == "done_date"
    assert "extra measurement" in str(refused.value)
    assert exam(session, patient, "cea", "2027-05-02").state == "open"
    record_measurement(session, day, patient.id, date="2026-11-30", value="3")  # the way instead


@pytest.mark.parametrize(
    ("booked", "named"),
    [
        # Two controls late: on the due date of the 12-month control and after.
        ("2026-06-02", "2026-06-02"),
        # More than 90 days before the due date.
        ("2025-08-01", "2025-08-01"),
    ],
)
def test_case_8_a_booking_outside_its_window_is_refused(
    session, ctx, treated_patient, booked, named
):
    patient = treated_patient("2025-06-02")  # ct_tap due 2025-12-02, the next 2026-06-02
    ct = exam(session, patient, "ct_tap", "2025-12-02")
    with pytest.raises(InputError) as refused:
        record_booking(session, ctx, ct.id, date=booked)
    assert (refused.value.field, refused.value.value) == ("date", named)
    assert exam(session, patient, "ct_tap", "2025-12-02").state == "open"


# --- R13: decisions --------------------------------------------------------------------------


def test_r13_treatment_planned_holds_then_lapses(session, ctx, on, treated_patient):
    patient = treated_patient("2025-12-01")
    record_measurement(session, ctx, patient.id, date="2026-05-20", value="9")
    assert patient_row(session, patient).mdt_review
    record_decision(session, ctx, patient.id, decision="treatment_planned", date="2026-05-25")
    row = patient_row(session, patient)
    assert (row.status, row.mdt_review, row.hold_until) == ("on_hold", False, D("2026-08-23"))
    assert set(categories(session, ctx, patient).values()) == {"on_hold"}
    # 90 days later, no treatment recorded: the hold lapses, back on the MDT list.
    lapsed = on("2026-08-23")
    record_measurement(session, lapsed, patient.id, date="2026-08-23", value="3")
    row = patient_row(session, patient)
    assert (row.status, row.mdt_review) == ("active", True)
    assert row.mdt_reason.startswith("hold_lapsed")


def test_r13_a_recheck_adds_an_extra_exam_and_its_withdrawal_removes_it(
    session, ctx, treated_patient
):
    patient = treated_patient("2025-12-01")
    decision = record_decision(
        session,
        ctx,
        patient.id,
        decision="recheck",
        exam="cea",
        due="2026-07-01",
        note="control CEA",
    )
    extra = [e for e in exams(session, patient.id) if e.month is None]
    assert [(e.code, e.due, e.state) for e in extra] == [("cea", D("2026-07-01"), "open")]
    withdraw_decision(session, ctx, decision.id, reason="wrong patient")
    extra = [e for e in exams(session, patient.id) if e.month is None]
    assert [(e.state, e.cancel_reason) for e in extra] == [("cancelled", "superseded")]


def test_r13_a_recheck_due_before_its_decision_is_refused(session, ctx, treated_patient):
    patient = treated_patient("2025-12-01")
    with pytest.raises(InputError) as refused:
        record_decision(session, ctx, patient.id, decision="recheck", exam="cea", due="2026-05-01")
    assert refused.value.field == "due"


# --- The daily recomputation -----------------------------------------------------------------


def test_the_daily_refresh_stores_a_lapsed_hold_and_a_lost_patient(
    session, ctx, on, treated_patient
):
    held = treated_patient("2025-12-01")
    record_decision(session, ctx, held.id, decision="treatment_planned", date="2026-05-25")
    lost = treated_patient("2025-12-01")
    assert patient_row(session, lost).lost_to_follow_up is False
    # Nothing recorded since: on 2027-01-05 both controls of 2026 (06-01, 12-01) are overdue.
    assert refresh_patients(session, on("2027-01-05"), [held.clinic_id]) == 2
    held_row, lost_row = patient_row(session, held), patient_row(session, lost)
    assert (held_row.status, held_row.mdt_reason) == ("active", "hold_lapsed 2026-08-23")
    assert lost_row.lost_to_follow_up
    assert worklist(session, on("2027-01-05"), [lost.clinic_id]).counts["lost_to_follow_up"] == 2
    assert refresh_patients(session, on("2027-01-05"), [held.clinic_id]) == 0  # idempotent
