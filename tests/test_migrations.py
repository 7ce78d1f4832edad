"""The schema is made by the migrations alone, and SQLite is set up for a clinic's writes."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from surveillance.db import make_engine, make_sessionmaker, writing
from surveillance.db.migrate import alembic_config, downgrade, migrations_dir, upgrade
from surveillance.db.models import Base, Clinic, User

pytestmark = pytest.mark.thorough  # every revision up and down on fresh databases

# Every table of the models, and Alembic's own.
TABLES = set(Base.metadata.tables) | {"alembic_version"}
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

# A revision for the test only: batch mode on SQLite copies `clinics` and drops the old
# table, the case where ON DELETE CASCADE would empty user_clinics.
REBUILD_CLINICS = """
import sqlalchemy as sa
from alembic import op

revision = "test_rebuild"
down_revision = "{head}"


def upgrade():
    with op.batch_alter_table("clinics", recreate="always") as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(20)))


def downgrade():
    with op.batch_alter_table("clinics", recreate="always") as batch_op:
        batch_op.drop_column("phone")
"""


@pytest.fixture
def new_engine(fresh_database):
    """Engines on fresh, empty databases; disposed after the test."""
    made: list[sa.Engine] = []

    def make(backend: str, **kwargs) -> sa.Engine:
        made.append(make_engine(fresh_database(backend), **kwargs))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory(str(migrations_dir())).get_current_head()


def schema_drift(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "target_metadata": Base.metadata}
        )
        return compare_metadata(context, Base.metadata)


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_downgrade_upgrade(new_engine, backend):
    engine = new_engine(backend)
    upgrade(engine)
    assert tables(engine) == TABLES
    assert current_revision(engine) == head_revision()
    downgrade(engine)
    assert tables(engine) == {"alembic_version"}
    assert current_revision(engine) is None
    upgrade(engine)
    assert tables(engine) == TABLES
    assert current_revision(engine) == head_revision()


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_twice_changes_nothing(new_engine, backend):
    engine = new_engine(backend)
    upgrade(engine)
    upgrade(engine)
    assert tables(engine) == TABLES


@pytest.mark.parametrize("backend", BACKENDS)
def test_models_and_migrations_agree(new_engine, backend):
    engine = new_engine(backend)
    upgrade(engine)
    assert schema_drift(engine) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_indexes_exist(new_engine, backend):
    # Autogenerate does not compare index conditions: the worklist's speed depends on them.
    engine = new_engine(backend)
    upgrade(engine)
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("planned_exams")}
    assert {"ix_planned_exams_open_due", "ix_planned_exams_booking_to_cancel"} <= indexes


def test_every_sqlite_connection_enforces_foreign_keys_and_uses_wal(new_engine):
    engine = new_engine("sqlite")
    with engine.connect() as first, engine.connect() as second:
        for conn in (first, second):
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0


def test_sqlite_refuses_an_orphan(new_engine):
    engine = new_engine("sqlite")
    upgrade(engine)
    with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO user_clinics (user_id, clinic_id) VALUES (41, 42)"))


@pytest.fixture
def migrations_with_rebuild(tmp_path):
    """A copy of the migrations with one more revision that rebuilds `clinics` in batch mode."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "versions" / "9999_test_rebuild.py").write_text(
        REBUILD_CLINICS.format(head=head_revision())
    )
    return copy


def test_a_batch_migration_keeps_child_rows_on_sqlite(new_engine, migrations_with_rebuild):
    # One pooled connection, so the one the migration used is the one checked afterwards.
    engine = new_engine("sqlite", pool_size=1, max_overflow=0)
    upgrade(engine)
    _add_user_with_clinic(engine)
    config = alembic_config(engine)
    config.set_main_option("script_location", str(migrations_with_rebuild))
    command.upgrade(config, "head")
    assert "phone" in {c["name"] for c in sa.inspect(engine).get_columns("clinics")}
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM user_clinics")).scalar() == 1
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    command.downgrade(config, head_revision())
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM user_clinics")).scalar() == 1
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_failed_migration_leaves_foreign_keys_on(new_engine, migrations_with_rebuild):
    engine = new_engine("sqlite", pool_size=1, max_overflow=0)
    upgrade(engine)
    broken = migrations_with_rebuild / "versions" / "9999_test_rebuild.py"
    broken.write_text(
        broken.read_text().replace(
            'batch_op.add_column(sa.Column("phone", sa.String(20)))', 'raise RuntimeError("broken")'
        )
    )
    config = alembic_config(engine)
    config.set_main_option("script_location", str(migrations_with_rebuild))
    with pytest.raises(RuntimeError, match="broken"):
        command.upgrade(config, "head")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert current_revision(engine) == head_revision()


def _add_user_with_clinic(engine: sa.Engine) -> None:
    with make_sessionmaker(engine)() as session, writing(session):
        session.add(
            User(
                email="admin@test",
                password_hash="x",
                role="admin",
                clinics=[Clinic(code="A", name="A")],
            )
        )


@pytest.fixture
def sqlite_url(fresh_database):
    url = fresh_database("sqlite")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def file_engine(sqlite_url):
    """Engines on one SQLite file, as separate processes would have; disposed after the test."""
    made: list[sa.Engine] = []

    def make(busy_timeout_ms: int | None = None) -> sa.Engine:
        made.append(make_engine(sqlite_url))
        if busy_timeout_ms is not None:
            sa.event.listen(
                made[-1],
                "connect",
                lambda dbapi, _: dbapi.execute(f"PRAGMA busy_timeout={busy_timeout_ms}"),
            )
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


def clinic_codes(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.scalars(sa.select(Clinic.code)))


def test_a_write_waits_for_the_other_writer_then_fails_as_locked(file_engine):
    first, second = file_engine(), file_engine(busy_timeout_ms=200)
    with make_sessionmaker(first)() as holder, make_sessionmaker(second)() as waiter:
        with writing(holder):
            holder.add(Clinic(code="A", name="A"))
            holder.flush()
            started = time.monotonic()
            with (
                pytest.raises(sa.exc.OperationalError, match="database is locked"),
                writing(waiter),
            ):
                waiter.add(Clinic(code="B", name="B"))
            assert time.monotonic() - started >= 0.15  # it waited for the busy timeout
        with writing(waiter):
            waiter.add(Clinic(code="B", name="B"))
    assert clinic_codes(first) == ["A", "B"]


def test_a_write_waits_until_the_other_writer_commits(file_engine):
    first, second = file_engine(), file_engine()
    failures: list[Exception] = []

    def write_b():
        try:
            with make_sessionmaker(second)() as session, writing(session):
                session.add(Clinic(code="B", name="B"))
        except Exception as exc:  # noqa: BLE001 - a thread: reported by the assertion below
            failures.append(exc)

    with make_sessionmaker(first)() as holder:
        with writing(holder):
            # Read, let the other writer try, then write: the shape of next_local_number.
            codes = holder.scalars(sa.select(Clinic.code)).all()
            thread = threading.Thread(target=write_b)
            thread.start()
            thread.join(0.3)
            assert thread.is_alive()  # still waiting for the lock, not failed
            holder.add(Clinic(code=f"A{len(codes)}", name="A"))
        thread.join(10)
    assert failures == []
    assert clinic_codes(first) == ["A0", "B"]


def test_a_read_then_write_does_not_fail_after_another_commit(file_engine):
    first, second = file_engine(), file_engine()
    with make_sessionmaker(first)() as nurse, make_sessionmaker(second)() as other:
        assert nurse.scalars(sa.select(Clinic.code)).all() == []  # the page shown before the form
        with writing(other):
            other.add(Clinic(code="A", name="A"))
        with writing(nurse):  # the form is sent: the read's snapshot is stale
            nurse.add(Clinic(code="B", name="B"))
    assert clinic_codes(first) == ["A", "B"]


def test_without_begin_immediate_a_read_then_write_fails_at_once(file_engine):
    # The trap of design.md, shown so the test above means something: busy timeout or not,
    # a deferred transaction whose snapshot is stale cannot take the write lock.
    first, second = file_engine(), file_engine()
    with make_sessionmaker(first)() as nurse, make_sessionmaker(second)() as other:
        nurse.scalars(sa.select(Clinic.code)).all()
        with writing(other):
            other.add(Clinic(code="A", name="A"))
        nurse.add(Clinic(code="B", name="B"))
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            nurse.commit()
        nurse.rollback()
