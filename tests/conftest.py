"""Fixtures: databases made by the migrations (SQLite and PostgreSQL), contexts, factories."""

from __future__ import annotations

import itertools
import os
import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from surveillance.db import make_engine, make_sessionmaker, upgrade
from surveillance.db.models import Base, Clinic
from surveillance.identity import make_synthetic_id
from surveillance.services import Actor, Context, record_treatment, register_patient

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("SURVEILLANCE_REQUIRE_POSTGRES") == "1"
TODAY = date(2026, 6, 1)


def postgres_or_skip() -> str:
    """The PostgreSQL server of the tests; a skip, or in CI a failure, without one."""
    reason = None
    if not POSTGRES_URL:
        reason = "TEST_POSTGRES_URL is not set"
    else:
        probe = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
        try:
            with probe.connect():
                pass
        except sa.exc.OperationalError as exc:
            reason = f"PostgreSQL at TEST_POSTGRES_URL is unreachable: {exc.orig}"
        finally:
            probe.dispose()
    if reason and REQUIRE_POSTGRES:
        pytest.fail(f"{reason} (SURVEILLANCE_REQUIRE_POSTGRES=1)")
    if reason:
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    return postgres_or_skip()


@pytest.fixture(scope="session")
def fresh_database(request, tmp_path_factory):
    """A factory of empty databases of a backend ("sqlite" or "postgresql"), dropped after the run."""
    made: list[tuple[sa.Engine, str]] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db')}/test.db"
        server = sa.make_url(postgres_or_skip())
        name = f"surveillance_test_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        made.append((admin, name))
        return server.set(database=name).render_as_string(hide_password=False)

    yield make
    for admin, name in made:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(request, fresh_database):
    """A database of each backend, made by `alembic upgrade head`, shared by a test run."""
    engine = make_engine(fresh_database(request.param))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def private_cluster():
    """A running PostgreSQL cluster of the test's own, to restart at will; removed after."""
    from tests.nodes_support import PrivateCluster, postgres_binaries_or_skip

    cluster = PrivateCluster(postgres_binaries_or_skip())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def session(engine):
    """A session; every row the test wrote is deleted afterwards."""
    with make_sessionmaker(engine)() as session:
        yield session
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def ctx() -> Context:
    """A nurse's context on TODAY, with synthetic IDs accepted."""
    return Context(Actor("nurse@test"), TODAY, accept_synthetic_ids=True)


@pytest.fixture
def clinic(session) -> Clinic:
    with session.begin():
        clinic = Clinic(code="TEST", name="Testklinikken")
        session.add(clinic)
    return clinic


_serial = itertools.count()


def synthetic_id(birth: date = date(1960, 5, 17)) -> str:
    """A fresh synthetic national ID (month + 80, valid check digits)."""
    while True:
        if number := make_synthetic_id(birth, next(_serial) % 500):
            return number


@pytest.fixture
def create_patient(session, ctx, clinic):
    """Register a patient; keyword arguments override the defaults."""

    def create(**overrides):
        overrides.setdefault("clinic_code", clinic.code)
        overrides.setdefault("national_id", synthetic_id())
        overrides.setdefault("name", "Kari Nordmann")
        return register_patient(session, ctx, **overrides)

    return create


@pytest.fixture
def treated_patient(session, ctx, create_patient):
    """A patient after a liver treatment (a resection on 2025-01-15 unless told otherwise)."""

    def create(treated: str = "2025-01-15", kind: str = "resection", **overrides):
        patient = create_patient(**overrides)
        record_treatment(session, ctx, patient.id, date=treated, kind=kind)
        return patient

    return create
