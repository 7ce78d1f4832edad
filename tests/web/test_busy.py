"""SQLite has one writer: when another transaction holds the lock past the busy timeout, a
request is answered "busy, try again" (503), never an error page (500), and changes nothing."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from .browsing import visible_text


@pytest.fixture
def sqlite_only(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no database-wide write lock")
    return engine


def short_busy_timeout(app, milliseconds: int = 200) -> None:
    """Make the app's connections give up waiting for the lock sooner (10 s by default)."""
    bind = app.extensions["surveillance"].sessions.kw["bind"]
    bind.dispose()

    @sa.event.listens_for(bind, "connect")
    def _timeout(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA busy_timeout={milliseconds}")


def test_a_patient_view_during_a_long_write_is_busy_not_an_error(
    sqlite_only, app, world, log_in, db
):
    nurse = log_in(world.a.nurse)
    short_busy_timeout(app)
    before = db.snapshot()
    holder = sqlite3.connect(sqlite_only.url.database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer, e.g. an import, holds the lock
        answer = nurse.get(f"/patients/{world.a.patient_id}")
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "5"
        assert "prøv igjen" in visible_text(answer).lower()
        assert "Pasient A" not in answer.text  # not shown without its audit row
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert db.snapshot() == before
    assert nurse.get(f"/patients/{world.a.patient_id}").status_code == 200
