"""Migration 0009 on a database filled by the previous version: new states from old facts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from surveillance.db import make_engine
from surveillance.db.migrate import upgrade

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

# Three patients as 0005 stored them: completed with a missed exam (issue 9, case 4),
# completed with everything done, and completed while flagged for the MDT.
ROWS = """
INSERT INTO clinics (id, code, name, created_at, digest_recipients, digest_include_references,
                     feed_include_details)
VALUES (1, 'OLD', 'Old clinic', '2026-01-01 00:00:00', '', false, false);
INSERT INTO patients (id, clinic_id, local_number, national_id, name, name_key, birth_date,
                      protocol, status, mdt_review, version, created_at, updated_at)
VALUES (1, 1, 1, '01016012345', 'A', 'a', '1960-01-01', 'no-hdir-2025', 'completed', false, 1,
        '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
       (2, 1, 2, '01016012346', 'B', 'b', '1960-01-01', 'no-hdir-2025', 'completed', false, 1,
        '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
       (3, 1, 3, '01016012347', 'C', 'c', '1960-01-01', 'no-hdir-2025', 'completed', true, 1,
        '2026-01-01 00:00:00', '2026-01-01 00:00:00');
INSERT INTO liver_treatments (id, patient_id, date, kind, created_at)
VALUES (1, 1, '2020-03-15', 'resection', '2026-01-01 00:00:00'),
       (2, 2, '2020-03-15', 'resection', '2026-01-01 00:00:00'),
       (3, 3, '2020-03-15', 'resection', '2026-01-01 00:00:00');
INSERT INTO primary_controls (id, patient_id, date, exams, created_at)
VALUES (1, 2, '2025-03-10', 'ct_tap cea', '2026-01-01 00:00:00');
INSERT INTO planned_exams (id, uid, patient_id, clinic_id, anchor_treatment_id, code, month, due,
                           due_working_day, state, booking_to_cancel, version, sequence,
                           created_at, updated_at)
VALUES (1, 'u1', 1, 1, 1, 'cea', 48, '2024-03-15', '2024-03-15', 'missed', false, 1, 0,
        '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
       (2, 'u2', 1, 1, 1, 'cea', 60, '2025-03-15', '2025-03-17', 'cancelled', false, 1, 0,
        '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
       (3, 'u3', 2, 1, 2, 'cea', 60, '2025-03-15', '2025-03-17', 'done', false, 1, 0,
        '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
       (4, 'u4', 3, 1, 3, 'cea', 60, '2025-03-15', '2025-03-17', 'done', false, 1, 0,
        '2026-01-01 00:00:00', '2026-01-01 00:00:00');
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_derives_the_new_states_from_the_stored_facts(fresh_database, backend):
    engine = make_engine(fresh_database(backend))
    try:
        upgrade(engine, "0005")
        with engine.begin() as conn:
            for statement in ROWS.split(";"):
                if statement.strip():
                    conn.exec_driver_sql(statement)
        upgrade(engine)
        with engine.connect() as conn:
            statuses = conn.execute(sa.text("SELECT id, status FROM patients ORDER BY id")).all()
            control = conn.execute(sa.text("SELECT done, results FROM primary_controls")).one()
            exams = conn.execute(
                sa.text("SELECT coordinated_done, result_from_control FROM planned_exams")
            ).all()
    finally:
        engine.dispose()
    # R7 v2: a missed exam or a standing MDT flag means the surveillance is not completed.
    assert statuses == [(1, "active"), (2, "completed"), (3, "active")]
    # R8 v2: an old primary control is planned, without results, until a nurse records it.
    assert (bool(control.done), control.results in ({}, "{}")) == (False, True)
    assert {(bool(a), bool(b)) for a, b in exams} == {(False, False)}
