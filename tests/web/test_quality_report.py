"""The quality report page and its CSV: a clinic's counts, no patient, nobody else's clinic."""

from __future__ import annotations

import sqlalchemy as sa

from surveillance.db.models import Patient, PlannedExam
from surveillance.quality.report import clinic_report
from surveillance.services import record_result

from .browsing import visible_text


def test_the_page_shows_counts_and_no_patient(world, log_in, setup_for, exam_of, db, session):
    s = setup_for("a")
    # Pasient A was treated 170 days ago: the month-3 liver CT (due ~80 days ago) is overdue.
    record_result(
        session,
        s.ctx,
        exam_of(world.a.patient_id, "ct_liver").id,
        done_date=s.today,
        result="normal",
    )
    nurse = log_in(world.a.nurse)
    page = nurse.get("/report")
    assert page.status_code == 200
    text = visible_text(page)
    patient = db.get(Patient, world.a.patient_id)
    for secret in (patient.name, patient.national_id, f"P-{patient.local_number:04d}", "Pasient B"):
        assert secret not in page.text
    assert "<svg" in page.text and "Q" in text
    figures = clinic_report(session, world.a.clinic_id, s.today, s.ctx.settings)
    (quarter,) = [q for q in figures if q.controls]
    assert quarter.controls == 1 and quarter.in_window == 0  # done ~50 days after its due date
    assert quarter.label in text


def test_the_csv_download(world, log_in):
    nurse = log_in(world.a.nurse)
    answer = nurse.get("/report.csv?clinic=A")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.text.startswith("quarter,controls,done_within_window")
    assert "Pasient" not in answer.text


def test_another_clinics_report_is_not_found(world, log_in):
    nurse = log_in(world.a.nurse)
    assert nurse.get("/report?clinic=B").status_code == 404
    assert nurse.get("/report.csv?clinic=B").status_code == 404


def test_the_database_figures_match_the_rows(world, session, setup_for):
    s = setup_for("a")
    exams = session.scalars(
        sa.select(PlannedExam).where(PlannedExam.clinic_id == world.a.clinic_id)
    ).all()
    overdue = sum(1 for e in exams if e.state == "open" and (s.today - e.due).days > 30)
    figures = clinic_report(session, world.a.clinic_id, s.today, s.ctx.settings)
    assert sum(q.overdue for q in figures) == overdue > 0
