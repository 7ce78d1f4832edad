"""Migration 0012 on a database of the previous version: a control booked on two days split."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from surveillance.db import make_engine, make_sessionmaker
from surveillance.db.migrate import upgrade
from surveillance.services import Actor, Context, worklist

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
STAMP = "'2026-01-01 00:00:00'"

# As 0010 stored them: the 6-month control's CEA booked on 2026-05-28, its CT on 2026-06-03
# (one row, results missing from the 29th); the 12-month control open.
ROWS = f"""
INSERT INTO clinics (id, code, name, created_at, digest_recipients, digest_include_references,
                     feed_include_details)
VALUES (1, 'OLD', 'Old clinic', {STAMP}, '', false, false);
INSERT INTO patients (id, clinic_id, local_number, national_id, name, name_key, birth_date,
                      protocol, status, mdt_review, hold_until, lost_to_follow_up, version,
                      created_at, updated_at)
VALUES (1, 1, 7, '01016012345', 'A', 'a', '1960-01-01', 'no-hdir-2025', 'active', false, NULL,
        false, 1, {STAMP}, {STAMP});
INSERT INTO liver_treatments (id, patient_id, date, kind, created_at)
VALUES (1, 1, '2025-12-01', 'resection', {STAMP});
INSERT INTO planned_exams (id, uid, patient_id, clinic_id, anchor_treatment_id, code, month, due,
                           due_working_day, state, booked_date, coordinated_with_id,
                           coordinated_date, coordinated_done, result_from_control,
                           booking_to_cancel, version, sequence, created_at, updated_at)
VALUES (1, 'u1', 1, 1, 1, 'cea', 6, '2026-06-01', '2026-06-01', 'booked', '2026-05-28', NULL,
        NULL, false, false, false, 1, 0, {STAMP}, {STAMP}),
       (2, 'u2', 1, 1, 1, 'ct_tap', 6, '2026-06-01', '2026-06-01', 'booked', '2026-06-03', NULL,
        NULL, false, false, false, 1, 0, {STAMP}, {STAMP}),
       (3, 'u3', 1, 1, 1, 'cea', 12, '2026-12-01', '2026-12-01', 'open', NULL, NULL, NULL,
        false, false, false, 1, 0, {STAMP}, {STAMP});
"""


def _controls(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT due, stage, codes, booked_date, results_on FROM controls"
                " ORDER BY due, results_on"
            )
        ).all()
    # SQLite reads dates back as text in a raw query: compare them as text.
    return [tuple(v if v is None else str(v) for v in row) for row in rows]


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_splits_a_control_booked_on_two_days(fresh_database, backend):
    engine = make_engine(fresh_database(backend))
    try:
        upgrade(engine, "0009")
        with engine.begin() as conn:
            for statement in ROWS.split(";"):
                if statement.strip():
                    conn.exec_driver_sql(statement)
        upgrade(engine, "0010")
        assert _controls(engine) == [
            ("2026-06-01", "booked", "cea ct_tap", "2026-05-28", "2026-05-29"),
            ("2026-12-01", "open", "cea", None, None),
        ]
        upgrade(engine)
        assert _controls(engine) == [
            ("2026-06-01", "booked", "cea", "2026-05-28", "2026-05-29"),
            ("2026-06-01", "booked", "ct_tap", "2026-06-03", "2026-06-04"),
            ("2026-12-01", "open", "cea", None, None),
        ]
        with make_sessionmaker(engine)() as session:
            page = worklist(session, Context(Actor("nurse@test"), date(2026, 6, 1)), [1])
    finally:
        engine.dispose()
    # As the engine lists each exam on 2026-06-01: the CEA's results are missing, the CT booked.
    assert [(i.category, i.codes, i.booked_date) for i in page.items] == [
        ("results_missing", ("cea",), date(2026, 5, 28)),
        ("booked", ("ct_tap",), date(2026, 6, 3)),
    ]
