"""Fixtures: databases made by the migrations (SQLite and PostgreSQL), contexts, factories."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from surveillance.db import make_engine, make_sessionmaker
from surveillance.db.migrate import upgrade
from surveillance.db.models import Base, Clinic
from surveillance.services import Actor, Context, accounts, record_treatment, register_patient
from tests.support.data import TODAY, synthetic_id
from tests.support.nodes import PrivateCluster, postgres_binaries_or_skip
from tests.support.postgres import postgres_or_skip

# A test names its own configuration and database: a developer's shell variables must not
# leak in (a test that wants them sets them with monkeypatch).
for _variable in ("SURVEILLANCE_CONFIG", "SURVEILLANCE_DATABASE_URL"):
    os.environ.pop(_variable, None)

# scrypt with 1/32 of the production work factor (N=2**10, not 2**15): a few ms, not 130.
# The hash names its parameters, so logging in checks it by the same code as a real one.
CHEAP_SCRYPT = "scrypt:1024:8:1"


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """Accounts made by the tests get a cheap scrypt: what is tested is who gets in, not the cost.

    (The dummy hash checked for an unknown e-mail keeps the production cost.)"""
    monkeypatch.setattr(
        accounts,
        "generate_password_hash",
        lambda password, method=None: generate_password_hash(password, CHEAP_SCRYPT),
    )


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


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def engine(request, fresh_database):
    """A database of each backend, made by `alembic upgrade head`, shared by a test run."""
    engine = make_engine(fresh_database(request.param))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def private_cluster():
    """A running PostgreSQL cluster of the test's own, to restart at will; removed after."""
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
