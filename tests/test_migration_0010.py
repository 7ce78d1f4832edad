"""Migration 0010 on a database filled by the previous version: controls from stored exams."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from surveillance.db import make_engine, make_sessionmaker
from surveillance.db.migrate import upgrade
from surveillance.services import Actor, Context, worklist

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
STAMP = "'2026-01-01 00:00:00'"

# As 0009 stored them: patient 1 with a control to book (two exams), a booked CT and a done
# and a cancelled exam; patient 2 on hold, a CEA coordinated with a primary control.
ROWS = f"""
INSERT INTO clinics (id, code, name, created_at, digest_recipients, digest_include_references,
                     feed_include_details)
VALUES (1, 'OLD', 'Old clinic', {STAMP}, '', false, false);
INSERT INTO patients (id, clinic_id, local_number, national_id, name, name_key, birth_date,
                      protocol, status, mdt_review, hold_until, lost_to_follow_up, version,
                      created_at, updated_at)
VALUES (1, 1, 7, '01016012345', 'A', 'a', '1960-01-01', 'no-hdir-2025', 'active', false, NULL,
        false, 1, {STAMP}, {STAMP}),
       (2, 1, 8, '01016012346', 'B', 'b', '1960-01-01', 'no-hdir-2025', 'on_hold', false,
        '2026-08-01', false, 1, {STAMP}, {STAMP});
INSERT INTO liver_treatments (id, patient_id, date, kind, created_at)
VALUES (1, 1, '2025-12-01', 'resection', {STAMP}), (2, 2, '2025-12-01', 'resection', {STAMP});
INSERT INTO primary_controls (id, patient_id, date, exams, done, results, created_at)
VALUES (1, 2, '2026-06-25', 'cea', false, '{{}}', {STAMP});
INSERT INTO planned_exams (id, uid, patient_id, clinic_id, anchor_treatment_id, code, month, due,
                           due_working_day, state, booked_date, coordinated_with_id,
                           coordinated_date, coordinated_done, result_from_control,
                           booking_to_cancel, version, sequence, created_at, updated_at)
VALUES (1, 'u1', 1, 1, 1, 'cea', 6, '2026-06-01', '2026-06-01', 'open', NULL, NULL, NULL,
        false, false, false, 1, 0, {STAMP}, {STAMP}),
       (2, 'u2', 1, 1, 1, 'ct_tap', 6, '2026-06-01', '2026-06-01', 'missed', NULL, NULL, NULL,
        false, false, false, 1, 0, {STAMP}, {STAMP}),
       (3, 'u3', 1, 1, 1, 'ct_tap', 3, '2026-03-01', '2026-03-02', 'booked', '2026-05-20', NULL,
        NULL, false, false, false, 1, 0, {STAMP}, {STAMP}),
       (4, 'u4', 1, 1, 1, 'cea', 3, '2026-03-01', '2026-03-02', 'done', NULL, NULL, NULL,
        false, false, false, 1, 0, {STAMP}, {STAMP}),
       (5, 'u5', 1, 1, 1, 'cea', 12, '2026-12-01', '2026-12-01', 'cancelled', NULL, NULL, NULL,
        false, false, false, 1, 0, {STAMP}, {STAMP}),
       (6, 'u6', 2, 1, 2, 'cea', 6, '2026-06-01', '2026-06-01', 'open', NULL, 1, '2026-06-25',
        false, false, false, 1, 0, {STAMP}, {STAMP});
"""


def _filled(fresh_database, backend: str) -> sa.Engine:
    engine = make_engine(fresh_database(backend))
    upgrade(engine, "0009")
    with engine.begin() as conn:
        for statement in ROWS.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    upgrade(engine)
    return engine


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_derives_one_control_per_patient_due_date_and_stage(fresh_database, backend):
    engine = _filled(fresh_database, backend)
    try:
        with engine.connect() as conn:
            controls = conn.execute(
                sa.text(
                    "SELECT patient_id, local_number, due, stage, codes, booked_date, results_on,"
                    " hold_until FROM controls ORDER BY patient_id, due"
                )
            ).all()
            uids = conn.execute(sa.text("SELECT uid FROM planned_exams ORDER BY id")).scalars()
            uids = list(uids)
    finally:
        engine.dispose()
    # SQLite reads dates back as text in a raw query: compare them as text.
    assert [
        tuple(v if v is None or isinstance(v, int) else str(v) for v in c) for c in controls
    ] == [
        (1, 7, "2026-03-01", "booked", "ct_tap", "2026-05-20", "2026-05-21", None),
        (1, 7, "2026-06-01", "open", "cea ct_tap", None, None, None),
        (2, 8, "2026-06-01", "coordinated", "cea", None, "2026-06-26", "2026-08-01"),
    ]
    assert uids == ["u1", "u2", "u3", "u4", "u5", "u6"]  # calendar UIDs stay


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_worklist_of_a_migrated_database(fresh_database, backend):
    engine = _filled(fresh_database, backend)
    try:
        with make_sessionmaker(engine)() as session:
            page = worklist(session, Context(Actor("nurse@test"), date(2026, 6, 1)), [1])
    finally:
        engine.dispose()
    assert [(i.category, i.reference, i.codes) for i in page.items] == [
        ("overdue", "P-0007", ("ct_tap",)),
        ("to_book", "P-0007", ("cea", "ct_tap")),
        ("on_hold", "P-0008", ("cea",)),
    ]
