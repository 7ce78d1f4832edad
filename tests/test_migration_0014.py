"""Migration 0014 on a database filled by the previous version: the newest MDT flag's day
from the stored reasons, and the controls holding a missed exam marked."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from surveillance.db import make_engine, make_sessionmaker
from surveillance.db.migrate import upgrade
from surveillance.services import Actor, Context, worklist
from surveillance.services.review import mdt_review

from .test_migration_0010 import ROWS

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# Patient 1 (P-0007) was flagged twice, the CEA later; patient 2 (P-0008) by an older CT.
FLAGS = """
UPDATE patients SET mdt_review = true,
    mdt_reason = 'ct_suspicious ct_tap 2026-03-02; cea_high cea 2026-05-20 7.2' WHERE id = 1;
UPDATE patients SET mdt_review = true, mdt_reason = 'ct_suspicious ct_tap 2026-04-11' WHERE id = 2;
"""


def filled(fresh_database, backend: str, steps=((ROWS, "0010"), (FLAGS, "0014"))) -> sa.Engine:
    """A database of version 0009 with rows, upgraded to each version after its rows, then to
    the newest (the services read the newest schema)."""
    engine = make_engine(fresh_database(backend))
    upgrade(engine, "0009")
    for rows, version in steps:  # 0010 derives the controls
        with engine.begin() as conn:
            for statement in rows.split(";\n"):
                if statement.strip():
                    conn.exec_driver_sql(statement)
        upgrade(engine, version)
    upgrade(engine)
    return engine


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_dates_the_flags_and_marks_missed_controls(fresh_database, backend):
    engine = filled(fresh_database, backend)
    ctx = Context(Actor("nurse@test"), date(2026, 6, 1))
    try:
        with make_sessionmaker(engine)() as session:
            flagged = mdt_review(session, ctx, [1])
            page = worklist(session, ctx, [1])
    finally:
        engine.dispose()
    assert [(r.reference, r.flagged_on) for r in flagged] == [
        ("P-0007", date(2026, 5, 20)),  # the newest flag first
        ("P-0008", date(2026, 4, 11)),
    ]
    # The control of 2026-06-01 holds the missed CT; the booked one of 2026-03-01 does not.
    assert [(i.reference, i.due, i.missed) for i in page.items] == [
        ("P-0007", date(2026, 3, 1), False),
        ("P-0007", date(2026, 6, 1), True),
        ("P-0008", date(2026, 6, 1), False),
    ]
