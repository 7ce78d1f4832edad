"""Migration 0002: the outbox table and the digest columns, made and unmade on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from surveillance.db import make_engine
from surveillance.db.migrate import downgrade, upgrade
from surveillance.db.models import Base

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
NOW = datetime(2026, 6, 1, 4, 30, tzinfo=UTC)


@pytest.fixture
def new_engine(fresh_database):
    made: list[sa.Engine] = []

    def make(backend: str) -> sa.Engine:
        made.append(make_engine(fresh_database(backend)))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


def columns(engine: sa.Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def drift(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "target_metadata": Base.metadata}
        )
        return compare_metadata(context, Base.metadata)


@pytest.mark.parametrize("backend", BACKENDS)
def test_models_and_migrations_agree_and_0002_goes_both_ways(new_engine, backend):
    engine = new_engine(backend)
    upgrade(engine, "0001")
    with engine.begin() as conn:  # rows made before the migration get the defaults
        conn.execute(
            sa.text("INSERT INTO clinics (code, name, created_at) VALUES ('A', 'A', :now)"),
            {"now": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO users (email, password_hash, role, active, created_at) "
                "VALUES ('a@x.no', 'x', 'nurse', :yes, :now)"
            ),
            {"now": NOW, "yes": True},
        )
    upgrade(engine)
    assert drift(engine) == []
    with engine.connect() as conn:
        assert conn.execute(
            sa.text("SELECT digest_recipients, digest_include_references FROM clinics")
        ).one() == ("", False)
        assert conn.execute(sa.text("SELECT digest_opt_in FROM users")).one() == (False,)
    downgrade(engine, "0001")
    assert "digests" not in sa.inspect(engine).get_table_names()
    assert not {"digest_recipients", "digest_include_references"} & columns(engine, "clinics")
    assert "digest_opt_in" not in columns(engine, "users")
    checks = {c["name"] for c in sa.inspect(engine).get_check_constraints("users")}
    assert "ck_users_role" in checks  # batch mode on SQLite copied the table with its CHECK
    upgrade(engine)
    assert drift(engine) == []


def insert_digest(conn, **values) -> None:
    row = {
        "clinic_id": 1,
        "day": date(2026, 6, 1),
        "message_id": "<a@x>",
        "state": "pending",
        "counts": "{}",
        "created_at": NOW,
    } | values
    conn.execute(
        sa.text(
            "INSERT INTO digests (clinic_id, day, message_id, state, counts, "
            "created_at) VALUES (:clinic_id, :day, :message_id, :state, :counts, "
            ":created_at)"
        ),
        row,
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "second, refused",
    [
        ({"message_id": "<b@x>"}, "clinic_id"),  # one digest per clinic and day
        ({"day": date(2026, 6, 2)}, "message_id"),  # the key is unique
        (
            {"day": date(2026, 6, 2), "message_id": "<b@x>", "state": "lost"},
            "state",
        ),  # known states
    ],
)
def test_the_database_itself_refuses(new_engine, backend, second, refused):
    engine = new_engine(backend)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO clinics (id, code, name, created_at) VALUES (1, 'A', 'A', :now)"),
            {"now": NOW},
        )
        insert_digest(conn)
    with pytest.raises(sa.exc.IntegrityError, match=refused), engine.begin() as conn:
        insert_digest(conn, **second)
