"""Throwaway databases made by the migrations, and driver connections set up like the app's."""

from __future__ import annotations

import re
import sqlite3
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import psycopg
import sqlalchemy as sa
from _synthetic import CLINIC
from psycopg.types.json import Json

from surveillance.clock import utcnow
from surveillance.db import make_engine
from surveillance.db.migrate import upgrade
from surveillance.db.models import Clinic

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
TABLES = ("patients", "liver_treatments", "primary_controls", "planned_exams", "controls")


@contextmanager
def database(backend: str, workdir: Path, name: str, server: str):
    """A fresh database made by the migrations, with the benchmark's clinic; dropped after."""
    if backend == "sqlite":
        url = f"sqlite:///{workdir / name}.db"
        yield _prepared(url)
        return
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    dbname = f"surveillance_bench_{name}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{dbname}"')
    try:
        yield _prepared(sa.make_url(server).set(database=dbname).render_as_string(False))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@contextmanager
def kept_database(
    backend: str, folder: Path, size: int, server: str, prefix: str = "surveillance_bench_keep"
):
    """A database kept between runs: made by the migrations once, upgraded on reuse.

    Whether it holds its patients is the caller's: a `<backend>-<size>.ready` file beside
    it, written once loaded; without it the database is made anew. On PostgreSQL it is
    `<prefix>_<size>` (another prefix: a copy, made with CREATE DATABASE ... TEMPLATE).
    """
    folder.mkdir(parents=True, exist_ok=True)
    fresh = not (folder / f"{backend}-{size}.ready").exists()
    if backend == "sqlite":
        path = folder / f"web-{size}.db"
        url = f"sqlite:///{path}"
        if fresh:
            for stale in folder.glob(f"web-{size}.db*"):
                stale.unlink()
            yield _prepared(url)
        else:
            yield _upgraded(url)
        return
    dbname = f"{prefix}_{size}"
    url = sa.make_url(server).set(database=dbname).render_as_string(False)
    if not fresh:
        yield _upgraded(url)
        return
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{dbname}"')
    admin.dispose()
    yield _prepared(url)


def _upgraded(url: str) -> str:
    """A kept database brought to the migrations' head (and its new rows derived)."""
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    upgrade(engine)
    engine.dispose()
    return url


def _prepared(url: str) -> str:
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    upgrade(engine)
    # Only the columns the first migration made: the model may run ahead of the migrations.
    clinics = sa.table(
        "clinics",
        sa.column("id"),
        sa.column("code"),
        sa.column("name"),
        sa.column("created_at", Clinic.__table__.c.created_at.type),
    )
    with engine.begin() as conn:
        conn.execute(
            clinics.insert().values(id=1, code=CLINIC, name="Benchmark clinic", created_at=utcnow())
        )
    engine.dispose()
    return url


def postgres_unreachable(server: str) -> str | None:
    """Why PostgreSQL cannot be used, or None if it answers."""
    try:
        with psycopg.connect(_conninfo(server), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def _conninfo(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(False)


def raw_connection(url: str):
    """A driver connection, set up as the application's engine sets up its own."""
    if sa.make_url(url).get_backend_name() != "sqlite":
        return psycopg.connect(_conninfo(url))
    conn = sqlite3.connect(sa.make_url(url).database, isolation_level=None)
    for pragma in (
        "foreign_keys=ON",
        "journal_mode=WAL",
        "busy_timeout=10000",
        "synchronous=NORMAL",
    ):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def placeholders(conn, sql: str) -> str:
    """`:name` parameters in the driver's own style."""
    if isinstance(conn, sqlite3.Connection):
        return sql
    return re.sub(r":(\w+)", r"%(\1)s", sql.replace("%", "%%"))


def begin(conn) -> None:
    """Start a write transaction (psycopg starts one by itself)."""
    if isinstance(conn, sqlite3.Connection):
        conn.execute("BEGIN IMMEDIATE")


def insert_many(conn, table: str, columns: list[str], rows: list[tuple]) -> None:
    """One INSERT, executed by the driver for every row."""
    sqlite = isinstance(conn, sqlite3.Connection)
    marks = ", ".join(["?" if sqlite else "%s"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    if sqlite:
        conn.executemany(sql, rows)
    else:
        # A JSON column (primary_controls.results) reads back as a dict: send it as JSON.
        rows = [tuple(Json(v) if isinstance(v, dict) else v for v in row) for row in rows]
        with conn.cursor() as cur:
            cur.executemany(sql, rows)


def read_rows(url: str) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every row of the loaded tables, in id order, as the driver returns them."""
    conn = raw_connection(url)
    try:
        rows = {}
        for table in TABLES:
            cur = conn.execute(f"SELECT * FROM {table} ORDER BY id")
            rows[table] = ([d[0] for d in cur.description], cur.fetchall())
        return rows
    finally:
        conn.close()


def count_rows(url: str) -> dict[str, int]:
    """How many rows each loaded table holds."""
    conn = raw_connection(url)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def analyze(conn) -> None:
    """Fresh planner statistics, as after a day of autovacuum (or ANALYZE on SQLite)."""
    if isinstance(conn, sqlite3.Connection):
        conn.execute("ANALYZE")
        return
    conn.autocommit = True
    for table in TABLES:
        conn.execute(f"VACUUM ANALYZE {table}")
    conn.autocommit = False


def bind_date(conn, day: date):
    # SQLAlchemy stores SQLite dates as ISO text; the raw queries must compare alike.
    return day.isoformat() if isinstance(conn, sqlite3.Connection) else day
