"""The demo's load: all or nothing however far it got, and the engine's answer for everyone."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from surveillance.db.models import AuditEvent, Clinic, Control, Patient, PlannedExam, User
from surveillance.demo import BATCH, DEMO_CLINIC, load_demo
from surveillance.services.plans import replan
from surveillance.services.transactions import transaction

pytestmark = pytest.mark.thorough  # whole-clinic loads, on both databases

# The booking that fails: after the first batch of patients was written and forgotten.
FAILING_BOOKING = 150
PATIENTS = BATCH + 100  # about 0.57 bookings a patient: the 150th is in the second batch

# A real failure of the database in the middle of the load (as a full disk would be), raised
# by a trigger on the audit events, one for each backend.
SQLITE_TRIGGER = f"""
CREATE TRIGGER demo_fails BEFORE INSERT ON audit_events
WHEN NEW.action = 'exam.book'
 AND (SELECT count(*) FROM audit_events WHERE action = 'exam.book') >= {FAILING_BOOKING}
BEGIN SELECT RAISE(ABORT, 'the database failed (a test)'); END
"""
POSTGRES_TRIGGER = (
    f"""
CREATE FUNCTION demo_fails() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.action = 'exam.book'
     AND (SELECT count(*) FROM audit_events WHERE action = 'exam.book') >= {FAILING_BOOKING} THEN
    RAISE EXCEPTION 'the database failed (a test)';
  END IF;
  RETURN NEW;
END $$
""",
    """
CREATE TRIGGER demo_fails BEFORE INSERT ON audit_events
FOR EACH ROW EXECUTE FUNCTION demo_fails()
""",
)
DROP = {
    "sqlite": ("DROP TRIGGER demo_fails",),
    "postgresql": ("DROP TRIGGER demo_fails ON audit_events", "DROP FUNCTION demo_fails()"),
}


def counts(session) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Clinic, User, Patient, PlannedExam, Control, AuditEvent)
    }


def test_a_failure_after_the_first_batches_leaves_nothing_behind(engine, session, ctx, caplog):
    backend = engine.dialect.name
    before = counts(session)
    with engine.begin() as conn:
        for statement in (SQLITE_TRIGGER,) if backend == "sqlite" else POSTGRES_TRIGGER:
            conn.exec_driver_sql(statement)
    try:
        with caplog.at_level(logging.DEBUG, "surveillance.demo"), pytest.raises(sa.exc.DBAPIError):
            load_demo(session, ctx, PATIENTS)
    finally:
        with engine.begin() as conn:
            for statement in DROP[backend]:
                conn.exec_driver_sql(statement)
    # It failed after a batch had been written to the transaction and forgotten by the session.
    assert f"{BATCH} of {PATIENTS} demo patients given their history" in caplog.messages
    assert f"{PATIENTS} of {PATIENTS} demo patients given their history" not in caplog.messages
    assert counts(session) == before
    assert load_demo(session, ctx, 3) == DEMO_CLINIC[0]  # not "already loaded"
    assert counts(session)["patients"] == before["patients"] + 3


def stored_answers(session) -> tuple[list, list, list]:
    """The engine's answers as stored: each patient's status and flags, exams, controls."""
    patients = session.execute(
        sa.select(
            Patient.id,
            Patient.status,
            Patient.status_reason,
            Patient.mdt_review,
            Patient.mdt_reason,
            Patient.mdt_flagged_on,
            Patient.hold_until,
            Patient.lost_to_follow_up,
        ).order_by(Patient.id)
    ).all()
    exams = session.execute(
        sa.select(
            PlannedExam.id,
            PlannedExam.state,
            PlannedExam.due,
            PlannedExam.done_date,
            PlannedExam.result_from_control,
            PlannedExam.coordinated_done,
            PlannedExam.cancel_reason,
            PlannedExam.booking_to_cancel,
        ).order_by(PlannedExam.id)
    ).all()
    columns = [c for c in Control.__table__.c if c.name != "id"]
    controls = sorted(map(tuple, session.execute(sa.select(*columns)).all()), key=repr)
    return patients, exams, controls


def test_every_demo_patient_holds_the_engines_answer(engine, session, ctx):
    # The demo stores the answer once a patient: through the verbs of their scenario, or by
    # a replan for those none acts on. Storing it again for everyone changes nothing.
    load_demo(session, ctx, 2 * BATCH // 3)
    loaded = stored_answers(session)
    assert loaded[0] and loaded[1] and loaded[2]
    with transaction(session):
        for patient in session.scalars(sa.select(Patient).order_by(Patient.id)).all():
            replan(session, patient, ctx)
    assert stored_answers(session) == loaded
