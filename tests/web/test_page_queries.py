"""What a page asks of the database: every page checks its login, every patient page writes
its audit event, so both are kept to the statements they need (issue 10)."""

from __future__ import annotations

import re

import pytest

LOGIN_TABLES = re.compile(r"\b(user_sessions|users|user_clinics|clinics)\b")


def test_the_login_is_checked_in_one_statement(nurse, world, sql_sent):
    sql_sent.clear()
    assert nurse.get(f"/patients/{world.a.patient_id}").status_code == 200
    # The session, its user and the user's clinics, read together.
    assert len([s for s in sql_sent if LOGIN_TABLES.search(s)]) == 1


def test_a_patient_view_holds_the_write_lock_for_its_audit_event_alone(
    nurse, world, engine, sql_sent
):
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite's BEGIN IMMEDIATE shows where the write begins")
    sql_sent.clear()
    assert nurse.get(f"/patients/{world.a.patient_id}").status_code == 200
    write = sql_sent[sql_sent.index("BEGIN IMMEDIATE") + 1 :]
    write = write[: write.index("BEGIN")] if "BEGIN" in write else write
    assert [s.split("(")[0].strip() for s in write] == ["INSERT INTO audit_events"]
