"""What a page asks of the database: every page checks its login, every patient page writes
its audit event, so both are kept to the statements they need (issue 10)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

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


# The lists of the record a patient page shows, read by their own query when read.
LIST_READ = re.compile(r"^\s*SELECT (patient_notes|mdt_decisions|measurements|primary_controls)\.")


def test_a_patient_page_reads_only_the_lists_the_patient_has(nurse, world, sql_sent):
    # Patient A has a liver treatment and its exams, and none of the other lists.
    sql_sent.clear()
    assert nurse.get(f"/patients/{world.a.patient_id}").status_code == 200
    assert [s for s in sql_sent if LIST_READ.match(s)] == []
    assert any(s.lstrip().startswith("SELECT planned_exams.") for s in sql_sent)

    nurse.submit(
        nurse.get(f"/patients/{world.a.patient_id}"),
        f"/patients/{world.a.patient_id}/notes",
        text="Ønsker time om morgenen",
    )
    sql_sent.clear()
    page = nurse.get(f"/patients/{world.a.patient_id}")
    assert "Ønsker time om morgenen" in page.get_data(as_text=True)
    assert [LIST_READ.match(s).group(1) for s in sql_sent if LIST_READ.match(s)] == [
        "patient_notes"
    ]


def test_a_patient_page_reads_everything_before_its_audit_write(nurse, world, sql_sent):
    sql_sent.clear()
    assert nurse.get(f"/patients/{world.a.patient_id}").status_code == 200
    # The write is the last statement: no read after it (on PostgreSQL a second checkout
    # of a connection, on SQLite a second transaction).
    assert sql_sent[-1].startswith("INSERT INTO audit_events")


def test_a_patient_page_on_postgresql_is_one_transaction(nurse, world, engine, app):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite ends the read to take its write lock up front (BEGIN IMMEDIATE)")
    served = app.extensions["surveillance"].sessions.kw["bind"]
    begun: list[str] = []

    def keep(_conn) -> None:
        begun.append("begin")

    sa.event.listen(served, "begin", keep)
    try:
        assert nurse.get(f"/patients/{world.a.patient_id}").status_code == 200
    finally:
        sa.event.remove(served, "begin", keep)
    # The login check, the record and the audit event: one BEGIN, one COMMIT, one checkout.
    assert begun == ["begin"]
