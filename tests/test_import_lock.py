"""Finding 5: a large CSV import held SQLite's only write lock 20.6 s and other nurses'
requests failed. The import now plans everything before it writes, and writes in short
transactions of IMPORT_CHUNK patients. (bench/import_lock.py measures the longest hold of
the largest allowed import, with 16 clients working meanwhile.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from surveillance.db.engine import IMMEDIATE
from surveillance.db.models import AuditEvent, Patient
from surveillance.services import bulk, imports, register_patient
from surveillance.services.imports import ImportStopped, check_file, import_rows
from tests.support.data import synthetic_id
from tests.test_import import csv


@pytest.fixture
def writes(engine):
    """SQLite's write transactions: how many, and whether one holds the lock now."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL takes no database-wide write lock")
    state = {"open": False, "count": 0}

    def begin(conn):
        if conn.get_execution_options().get(IMMEDIATE):
            state["open"], state["count"] = True, state["count"] + 1

    def end(conn):
        state["open"] = False

    sa.event.listen(engine, "begin", begin)
    sa.event.listen(engine, "commit", end)
    sa.event.listen(engine, "rollback", end)
    yield state
    sa.event.remove(engine, "begin", begin)
    sa.event.remove(engine, "commit", end)
    sa.event.remove(engine, "rollback", end)


def fixed_chunks_of_5(monkeypatch) -> None:
    """Chunks of 5 patients, whatever the time each takes."""
    monkeypatch.setattr(imports, "IMPORT_CHUNK", 5)
    monkeypatch.setattr(imports, "next_chunk_size", lambda size, seconds: size)


@pytest.mark.parametrize(
    "size, seconds, expected",
    [
        (500, 0.5, 500),  # on target: kept
        (500, 3.0, 250),  # a busy machine: halved
        (30, 9.0, 25),  # but never below MIN_CHUNK
        (500, 0.05, 1000),  # quick: doubled
        (2000, 0.01, 2000),  # up to 4 x IMPORT_CHUNK
    ],
)
def test_the_chunks_follow_the_time_each_takes(size, seconds, expected):
    assert imports.next_chunk_size(size, seconds) == expected


def file_of(count: int, ctx) -> bytes:
    day = (ctx.today - timedelta(days=100)).isoformat()
    return csv(*(f"{synthetic_id()};Pasient {n};{day};reseksjon;" for n in range(count)))


def test_finding_5_no_plan_is_made_while_the_write_lock_is_held(
    session, ctx, clinic, writes, monkeypatch
):
    planned_inside = []
    real = bulk.make_plan

    def watched(*args, **kwargs):
        planned_inside.append(writes["open"])
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "make_plan", watched)
    preview = check_file(session, ctx, clinic.code, file_of(12, ctx))
    session.rollback()
    assert import_rows(session, ctx, clinic.code, preview) == 12
    assert len(planned_inside) == 12 and not any(planned_inside)


def test_finding_5_a_large_import_writes_in_short_transactions(
    session, ctx, clinic, writes, monkeypatch
):
    fixed_chunks_of_5(monkeypatch)
    preview = check_file(session, ctx, clinic.code, file_of(12, ctx))
    session.rollback()
    before = writes["count"]
    assert import_rows(session, ctx, clinic.code, preview) == 12
    assert writes["count"] - before == 3  # 5 + 5 + 2 patients


def test_a_large_import_is_loaded_whole_chunk_by_chunk(session, ctx, clinic, monkeypatch):
    fixed_chunks_of_5(monkeypatch)
    preview = check_file(session, ctx, clinic.code, file_of(12, ctx))
    session.rollback()
    assert import_rows(session, ctx, clinic.code, preview) == 12
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 12
    loads = session.scalars(
        sa.select(AuditEvent.details)
        .where(AuditEvent.action == "patient.bulk_load")
        .order_by(AuditEvent.id)
    )
    assert [d["patients"] for d in loads] == [5, 5, 2]


def test_an_import_stopped_midway_is_completed_by_importing_the_file_again(
    session, ctx, clinic, monkeypatch
):
    fixed_chunks_of_5(monkeypatch)
    data = file_of(12, ctx)
    preview = check_file(session, ctx, clinic.code, data)
    session.rollback()
    # Meanwhile another nurse registers the 8th person of the file by hand.
    eighth = preview.rows[7]
    register_patient(
        session,
        ctx,
        clinic_code=clinic.code,
        national_id=eighth.values["national_id"],
        name="Registrert for hånd",
        treatment_date=eighth.values["treatment_date"],
        treatment_kind="resection",
    )
    with pytest.raises(ImportStopped) as stopped:
        import_rows(session, ctx, clinic.code, preview)
    # The message says how many went in, which row stopped it, and what to do.
    assert stopped.value.loaded == 5
    assert stopped.value.error.field == f"row {eighth.number}: national_id"
    assert str(stopped.value).startswith("5 patients imported before the import stopped; ")
    assert str(stopped.value).endswith(
        "import the same file again to add the rest (registered patients are skipped)"
    )
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 6  # 5 + by hand
    again = check_file(session, ctx, clinic.code, data)
    session.rollback()
    assert import_rows(session, ctx, clinic.code, again) == 6
    assert session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 12
