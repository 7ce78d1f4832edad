"""Planned exams on the database: booking, results and MDT flags (R9), missed, completion (R7)."""

from __future__ import annotations

from datetime import date, time

import pytest
import sqlalchemy as sa

from surveillance.db import make_sessionmaker
from surveillance.db.models import AuditEvent, Base, Patient, PlannedExam
from surveillance.services import (
    Conflict,
    InputError,
    NotFound,
    confirm_booking_cancelled,
    end_surveillance,
    get_exam,
    get_patient,
    record_booking,
    record_mdt_decision,
    record_missed,
    record_result,
    record_treatment,
)

D = date.fromisoformat


def database_contents(session) -> dict[str, list[tuple]]:
    """Every row of every table, to show that a refused call changed nothing."""
    return {
        table.name: session.execute(sa.select(table).order_by(*table.primary_key)).all()
        for table in Base.metadata.sorted_tables
    }


def reloaded(session, exam: PlannedExam) -> PlannedExam:
    session.expire_all()
    return session.get(PlannedExam, exam.id)


def exam(patient: Patient, code: str, month: int) -> PlannedExam:
    return next(e for e in patient.exams if (e.code, e.month) == (code, month))


@pytest.fixture
def exam_in_state(session, ctx, treated_patient):
    """The 6-month CT of a resected patient, brought into a state: open, booked, done, missed,
    cancelled, or cancelled with its booking still to cancel."""

    def bring(state: str, code: str = "ct_tap") -> PlannedExam:
        patient = treated_patient()
        subject = exam(patient, code, 6)
        if state in ("booked", "booking_to_cancel"):
            record_booking(session, ctx, subject.id, date="2025-07-14")
        if state == "done":
            record_result(
                session, ctx, subject.id, done_date="2025-07-14", result="normal", value="1"
            )
        if state == "missed":
            record_missed(session, ctx, subject.id, reason="did not come")
        if state in ("cancelled", "booking_to_cancel"):
            end_surveillance(session, ctx, patient.id, status="moved")
        return subject

    return bring


# -- booking -----------------------------------------------------------------------------------


def test_a_booking_stores_date_time_and_place(session, ctx, exam_in_state):
    subject = exam_in_state("open")
    record_booking(
        session, ctx, subject.id, date="2025-07-14", time="08:45", place=" Radiologisk avdeling "
    )
    stored = reloaded(session, subject)
    assert (stored.state, stored.booked_date, stored.booked_time, stored.booked_place) == (
        "booked",
        D("2025-07-14"),
        time(8, 45),
        "Radiologisk avdeling",
    )
    assert (stored.sequence, stored.version) == (1, 2)


def test_a_booking_can_be_moved(session, ctx, exam_in_state):
    subject = exam_in_state("booked")
    record_booking(session, ctx, subject.id, date="2025-07-21")
    stored = reloaded(session, subject)
    assert (stored.booked_date, stored.booked_time, stored.booked_place) == (
        D("2025-07-21"),
        None,
        None,
    )
    assert stored.sequence == 2


def test_a_missed_exam_is_booked_again_and_done(session, ctx, exam_in_state):
    subject = exam_in_state("missed")
    assert reloaded(session, subject).missed_reason == "did not come"
    record_booking(session, ctx, subject.id, date="2025-08-04")
    record_result(session, ctx, subject.id, done_date="2025-08-04", result="normal")
    stored = reloaded(session, subject)
    assert (stored.state, stored.done_date, stored.result) == ("done", D("2025-08-04"), "normal")


def test_missed_stores_the_reason(session, ctx, exam_in_state):
    subject = exam_in_state("booked")
    record_missed(
        session, ctx, subject.id, reason=" Innlagt på sykehus ", contact_attempt="phoned 2025-07-15"
    )
    stored = reloaded(session, subject)
    assert (stored.state, stored.missed_reason, stored.sequence) == (
        "missed",
        "Innlagt på sykehus",
        2,
    )


# -- results and the MDT flag (R9) -------------------------------------------------------------


# Each row: an exam, the result given, what is stored, and whether the patient needs the MDT.
@pytest.mark.parametrize(
    "code, given, stored, flagged",
    [
        ("ct_tap", {"result": "normal"}, ("normal", None), False),
        ("ct_tap", {"result": "suspicious"}, ("suspicious", None), True),
        ("ct_liver", {"result": "suspicious"}, ("suspicious", None), True),  # after ablation
        ("ct_liver", {"result": "normal"}, ("normal", None), False),
        ("cea", {"value": "3,2"}, (None, 3.2), False),  # a decimal comma, as typed in Norway
        ("cea", {"value": " 3.2 "}, (None, 3.2), False),
        ("cea", {"value": 0}, (None, 0.0), False),
        ("cea", {"value": "5,0"}, (None, 5.0), False),  # at the upper limit is not above it
        ("cea", {"value": "5,01"}, (None, 5.01), True),
        ("cea", {"value": 48.5}, (None, 48.5), True),
    ],
)
def test_a_result_is_stored_and_an_alarming_one_flags_the_patient(
    session, ctx, treated_patient, code, given, stored, flagged
):
    patient = treated_patient("2025-03-31", "ablation")
    subject = exam(patient, code, 3 if code == "ct_liver" else 6)
    record_result(session, ctx, subject.id, done_date="2025-10-01", **given)
    exam_row = reloaded(session, subject)
    assert (exam_row.state, exam_row.done_date) == ("done", D("2025-10-01"))
    assert (exam_row.result, exam_row.result_value) == stored
    patient = session.get(Patient, patient.id)
    assert patient.mdt_review is flagged
    reason = "cea_high" if code == "cea" else "ct_suspicious"
    value = f" {stored[1]:g}" if code == "cea" else ""
    assert patient.mdt_reason == (f"{reason} {code} 2025-10-01{value}" if flagged else None)


def test_a_normal_result_does_not_clear_a_pending_review(session, ctx, treated_patient):
    patient = treated_patient()
    record_result(session, ctx, exam(patient, "cea", 6).id, done_date="2025-07-20", value="12")
    record_result(
        session, ctx, exam(patient, "ct_tap", 6).id, done_date="2025-07-20", result="normal"
    )
    assert session.get(Patient, patient.id).mdt_review is True
    record_mdt_decision(session, ctx, patient.id, decision="no_recurrence")
    assert session.get(Patient, patient.id).mdt_review is False


# -- completion (R7) ---------------------------------------------------------------------------


def test_the_60_month_control_done_completes_surveillance(session, ctx, treated_patient):
    patient = treated_patient("2020-01-15")  # the 60-month control is due 2025-01-15
    # R7 v2: every earlier control is resolved (done here), else the patient stays active.
    for earlier in list(patient.exams):
        if earlier.month < 60:
            record_result(
                session,
                ctx,
                earlier.id,
                done_date=earlier.due.isoformat(),
                result="normal",
                value="1",
            )
    assert session.get(Patient, patient.id).status == "active"
    record_result(
        session, ctx, exam(patient, "ct_tap", 60).id, done_date="2025-01-16", result="normal"
    )
    assert session.get(Patient, patient.id).status == "active"  # the CEA is still to come
    record_result(session, ctx, exam(patient, "cea", 60).id, done_date="2025-01-16", value="2")
    assert session.get(Patient, patient.id).status == "completed"


def test_a_missed_60_month_control_does_not_complete(session, ctx, treated_patient):
    patient = treated_patient("2020-01-15")
    record_result(
        session, ctx, exam(patient, "ct_tap", 60).id, done_date="2025-01-16", result="normal"
    )
    record_missed(session, ctx, exam(patient, "cea", 60).id, reason="did not come")
    assert session.get(Patient, patient.id).status == "active"


# -- state rules -------------------------------------------------------------------------------


def _book(s, c, e):
    return record_booking(s, c, e.id, date="2025-07-20")


def _result(s, c, e):
    return record_result(s, c, e.id, done_date="2025-07-20", result="normal")


def _missed(s, c, e):
    return record_missed(s, c, e.id, reason="ill")


def _confirm(s, c, e):
    return confirm_booking_cancelled(s, c, e.id)


# Each row: an exam's state, a verb that state does not allow, and the words of the refusal.
@pytest.mark.parametrize(
    "state, verb, problem",
    [
        ("cancelled", _result, "is cancelled and cannot be given a result"),
        ("cancelled", _book, "is cancelled and cannot be booked"),
        ("cancelled", _missed, "is cancelled and cannot be marked missed"),
        ("booking_to_cancel", _book, "is cancelled and cannot be booked"),  # book anew after resume
        ("done", _result, "is done and cannot be given a result"),  # a result is not overwritten
        ("done", _book, "is done and cannot be booked"),
        ("done", _missed, "is done and cannot be marked missed"),
        ("missed", _missed, "is missed and cannot be marked missed"),
        ("open", _confirm, "has no booking waiting to be cancelled"),
        ("booked", _confirm, "has no booking waiting to be cancelled"),
    ],
)
def test_a_verb_the_state_does_not_allow_changes_nothing(
    session, ctx, exam_in_state, state, verb, problem
):
    subject = exam_in_state(state)
    before = database_contents(session)
    with pytest.raises(InputError) as refused:
        verb(session, ctx, subject)
    assert refused.value.field == "exam" and problem in str(refused.value)
    assert database_contents(session) == before


def test_an_unknown_exam_is_not_found(session, ctx, exam_in_state):
    subject = exam_in_state("open")
    before = database_contents(session)
    for verb in (_book, _result, _missed, _confirm):
        with pytest.raises(NotFound):
            verb(session, ctx, PlannedExam(id=subject.id + 10_000))
    assert database_contents(session) == before


# -- bad input changes nothing ---------------------------------------------------------------

# Each row: the exam, a call with one bad value, and the field and value the refusal names.
REFUSED_CALLS = [
    # 30 February
    ("ct_tap", lambda s, c, e: record_booking(s, c, e.id, date="2025-02-30"), "date", "2025-02-30"),
    # booked before the resection it follows (2025-01-15)
    ("ct_tap", lambda s, c, e: record_booking(s, c, e.id, date="2025-01-14"), "date", "2025-01-14"),
    # 25 o'clock
    (
        "ct_tap",
        lambda s, c, e: record_booking(s, c, e.id, date="2025-07-14", time="25:00"),
        "time",
        "25:00",
    ),
    # a place longer than the column
    (
        "ct_tap",
        lambda s, c, e: record_booking(s, c, e.id, date="2025-07-14", place="p" * 201),
        "place",
        "pppp",
    ),
    # month 13
    (
        "ct_tap",
        lambda s, c, e: record_result(s, c, e.id, done_date="2025-13-01", result="normal"),
        "done_date",
        "2025-13-01",
    ),
    # done tomorrow
    (
        "ct_tap",
        lambda s, c, e: record_result(s, c, e.id, done_date="2026-06-02", result="normal"),
        "done_date",
        "2026-06-02",
    ),
    # done before the resection it follows (a typo for 2025)
    (
        "ct_tap",
        lambda s, c, e: record_result(s, c, e.id, done_date="2015-07-14", result="normal"),
        "done_date",
        "2015-07-14",
    ),
    # a CT read neither normal nor suspicious
    (
        "ct_tap",
        lambda s, c, e: record_result(s, c, e.id, done_date="2025-07-14", result="unclear"),
        "result",
        "unclear",
    ),
    # a CT without its reading
    (
        "ct_tap",
        lambda s, c, e: record_result(s, c, e.id, done_date="2025-07-14", value="3"),
        "result",
        "None",
    ),
    # a CEA that is not a number
    (
        "cea",
        lambda s, c, e: record_result(s, c, e.id, done_date="2025-07-14", value="abc"),
        "value",
        "abc",
    ),
    # a CEA left empty
    (
        "cea",
        lambda s, c, e: record_result(s, c, e.id, done_date="2025-07-14", value=""),
        "value",
        "''",
    ),
    # a CEA without a value, given a CT's reading instead
    (
        "cea",
        lambda s, c, e: record_result(s, c, e.id, done_date="2025-07-14", result="normal"),
        "value",
        "None",
    ),
    # a negative CEA
    (
        "cea",
        lambda s, c, e: record_result(s, c, e.id, done_date="2025-07-14", value="-1"),
        "value",
        "-1",
    ),
    # not a number, though float() reads it
    (
        "cea",
        lambda s, c, e: record_result(s, c, e.id, done_date="2025-07-14", value="nan"),
        "value",
        "nan",
    ),
    # a thousands separator and a decimal comma
    (
        "cea",
        lambda s, c, e: record_result(s, c, e.id, done_date="2025-07-14", value="1.234,5"),
        "value",
        "1.234,5",
    ),
    # missed without saying why
    ("cea", lambda s, c, e: record_missed(s, c, e.id, reason="  "), "reason", "'  '"),
    # a contact attempt longer than a note may be
    (
        "cea",
        lambda s, c, e: record_missed(s, c, e.id, reason="ill", contact_attempt="c" * 2001),
        "contact_attempt",
        "cccc",
    ),
]


@pytest.mark.parametrize("code, call, field, value", REFUSED_CALLS)
def test_bad_input_to_exam_verbs_changes_nothing(
    session, ctx, treated_patient, code, call, field, value
):
    subject = exam(treated_patient(), code, 6)
    before = database_contents(session)
    with pytest.raises(InputError) as refused:
        call(session, ctx, subject)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ") and value in str(refused.value)
    assert database_contents(session) == before


# -- stale forms and concurrent edits --------------------------------------------------------


# Each row: the exam's state, what another nurse did meanwhile, and the call with the old version.
@pytest.mark.parametrize(
    "state, meanwhile, call",
    [
        (
            "open",
            _book,
            lambda s, c, e, v: record_booking(s, c, e.id, date="2025-07-21", expected_version=v),
        ),
        (
            "open",
            _book,
            lambda s, c, e, v: record_result(
                s, c, e.id, done_date="2025-07-20", result="suspicious", expected_version=v
            ),
        ),
        (
            "open",
            _book,
            lambda s, c, e, v: record_missed(s, c, e.id, reason="ill", expected_version=v),
        ),
        (
            "booking_to_cancel",
            _confirm,
            lambda s, c, e, v: confirm_booking_cancelled(s, c, e.id, expected_version=v),
        ),
    ],
)
def test_a_stale_exam_form_is_refused(session, ctx, exam_in_state, state, meanwhile, call):
    subject = exam_in_state(state)
    shown = subject.version
    meanwhile(session, ctx, subject)
    before = database_contents(session)
    with pytest.raises(
        Conflict,
        match=r"^The exam was changed by someone else\. "
        r"Reload the page and try again\.$",
    ):
        call(session, ctx, subject, shown)
    assert database_contents(session) == before


@pytest.mark.parametrize(
    "with_version",
    [
        False,  # the second nurse's session still holds the exam it loaded
        True,  # and her form also sends the version it was shown
    ],
)
def test_two_nurses_book_the_same_exam_and_the_first_booking_is_kept(
    engine, session, ctx, treated_patient, with_version
):
    exam_id = exam(treated_patient(), "ct_tap", 6).id
    with make_sessionmaker(engine)() as other:
        mine, theirs = get_exam(session, exam_id), get_exam(other, exam_id)
        assert mine.version == theirs.version
        shown = theirs.version if with_version else None
        record_booking(session, ctx, exam_id, date="2025-07-14", place="Ullevål")
        with pytest.raises(Conflict):
            record_booking(
                other, ctx, exam_id, date="2025-07-16", place="Aker", expected_version=shown
            )
        again = get_exam(other, exam_id)  # the second nurse reloads and sees the first booking
        assert (again.booked_date, again.booked_place) == (D("2025-07-14"), "Ullevål")
    stored = reloaded(session, mine)
    assert (stored.booked_date, stored.booked_place, stored.sequence) == (
        D("2025-07-14"),
        "Ullevål",
        1,
    )
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "exam.book")
        )
        == 1
    )


def test_a_treatment_recorded_on_a_stale_patient_is_refused(engine, session, ctx, treated_patient):
    patient = treated_patient()
    with make_sessionmaker(engine)() as other:
        shown = get_patient(other, patient.id)  # the second nurse has the patient open
        assert shown.version == patient.version
        record_treatment(session, ctx, patient.id, date="2026-03-10", kind="resection")
        with pytest.raises(Conflict):
            record_treatment(other, ctx, patient.id, date="2026-03-11", kind="ablation")
    session.expire_all()
    assert [t.date for t in session.get(Patient, patient.id).treatments] == [
        D("2025-01-15"),
        D("2026-03-10"),
    ]
