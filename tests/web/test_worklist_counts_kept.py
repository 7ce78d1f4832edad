"""The worklist's counts are kept per clinic while its list stamp holds (issue 10): any
write to the clinic's list data, by the services or raw SQL, shows in the next page."""

from __future__ import annotations

import sqlalchemy as sa

from surveillance.db.models import PlannedExam
from surveillance.services import worklist

from .test_worklist_page import counts


def statements(app):
    """The SQL the app sends from now on."""
    sent: list[str] = []
    engine = app.extensions["surveillance"].sessions.kw["bind"]
    sa.event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    return sent


def test_unchanged_lists_are_not_counted_again(app, nurse):
    first = counts(nurse.get("/"))
    sent = statements(app)
    assert counts(nurse.get("/")) == first
    assert not [s for s in sent if "count(*)" in s]
    nurse.get("/?exam=cea")  # another question: counted
    assert [s for s in sent if "count(*)" in s]


def test_a_patient_registered_elsewhere_shows_in_the_counts(nurse, make_patient):
    before = counts(nurse.get("/"))
    make_patient("A", name="Ny Pasient")  # another node, or the command line
    after = counts(nurse.get("/"))
    assert after["overdue"] == before["overdue"] + 1
    assert after["to_book"] == before["to_book"] + 1


def test_a_booking_through_the_page_shows_in_the_counts(nurse, world, session):
    before = counts(nurse.get("/"))
    to_book = session.scalar(  # the patient's next open exam: on the list to book
        sa.select(PlannedExam.id)
        .where(
            PlannedExam.patient_id == world.a.patient_id,
            PlannedExam.state == "open",
            PlannedExam.due >= world.today,
        )
        .order_by(PlannedExam.due)
        .limit(1)
    )
    session.commit()
    page = nurse.get(f"/patients/{world.a.patient_id}")
    answer = nurse.submit(page, f"/exams/{to_book}/book", date=world.today.isoformat())
    assert answer.status_code == 302
    after = counts(nurse.get("/"))
    assert after["booked"] == before["booked"] + 1
    counted = worklist(session, world.ctx, [world.a.clinic_id]).counts  # nothing kept
    assert after == counted


def test_raw_sql_on_the_controls_shows_in_the_counts(nurse, world, engine):
    assert counts(nurse.get("/"))["overdue"] == 1
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM controls WHERE clinic_id = :c"), {"c": world.a.clinic_id})
    assert counts(nurse.get("/"))["overdue"] == 0


def test_another_clinics_write_keeps_this_clinics_counts(app, nurse, make_patient):
    counts(nurse.get("/"))
    make_patient("B", name="Annen Pasient")
    sent = statements(app)
    nurse.get("/")
    assert not [s for s in sent if "count(*)" in s]
