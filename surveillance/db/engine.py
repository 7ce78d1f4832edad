"""Engines and sessions: SQLite tuned for a clinic's writes, PostgreSQL through psycopg 3."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from ..config import DatabaseConfig

IMMEDIATE = "surveillance_immediate"
# Marks a session inside a unit of work: a verb called there joins it (see writing()).
UNIT_OF_WORK = "surveillance_unit_of_work"


def make_engine(url: str, **kwargs) -> sa.Engine:
    """An engine for `url`; on SQLite, foreign keys on, WAL, and BEGIN IMMEDIATE for writes."""
    url_obj = sa.make_url(url)
    if url_obj.get_backend_name() != "sqlite":
        return sa.create_engine(url_obj, **kwargs)
    if url_obj.database and url_obj.database != ":memory:":
        Path(url_obj.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url_obj, **kwargs)
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def make_bounded_engine(database: DatabaseConfig, **kwargs) -> sa.Engine:
    """The engine of a long-running process: connections tested before use, every wait bounded."""
    url = sa.make_url(database.url)
    options: dict = {"pool_pre_ping": True}
    if url.database not in (None, "", ":memory:"):  # in-memory SQLite has one connection, no queue
        options["pool_timeout"] = database.pool_timeout_seconds
    if url.get_backend_name() == "postgresql":
        # Said, not assumed: writing() lets a write go on in the read's transaction, which
        # under a snapshot level (REPEATABLE READ) would see the data of the first read.
        options["isolation_level"] = "READ COMMITTED"
        options["connect_args"] = {
            "connect_timeout": database.connect_timeout_seconds,
            "options": f"-c statement_timeout={database.statement_timeout_seconds * 1000}",
            # A server (or network) gone without a word is noticed in about 25 s, not hours.
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        }
    engine = make_engine(database.url, **(options | kwargs))
    if url.get_backend_name() == "postgresql":
        sa.event.listen(engine, "do_connect", _patient_connect(database.connect_timeout_seconds))
    return engine


def _patient_connect(seconds: float):
    # A restart refuses connections for a second or two: a request that needs a new
    # connection then waits (at most `seconds`) instead of failing at once.
    def connect(dialect, _record, cargs, cparams):
        deadline = time.monotonic() + seconds
        while True:
            try:
                return dialect.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.25)

    return connect


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Let SQLAlchemy, not the driver, say when a transaction begins (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    # A transaction that reads and then writes fails at once with "database is locked"
    # under concurrency unless it takes the write lock up front (design.md).
    immediate = connection.get_execution_options().get(IMMEDIATE)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_sessionmaker(engine: sa.Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit, for the caller to show."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def writing(session: Session) -> Iterator[Session]:
    """One unit of work that writes: commits at the end, rolls back on any error."""
    if session.info.get(UNIT_OF_WORK):
        # A verb called inside a larger unit of work (the demo, loaded all or nothing)
        # is part of it: the outer one commits or rolls back everything.
        yield session
        return
    if session.in_transaction():
        # A read (the page shown before the form) autobegan a transaction.
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("unsaved changes outside a unit of work")
        if session.get_bind().dialect.name != "sqlite":
            # PostgreSQL takes no lock up front: the write goes on in the read's transaction
            # (a COMMIT, a connection checkout with its ping and a BEGIN fewer: 4 of a
            # patient page's 11 round trips, issue 10). A read that failed has aborted that
            # transaction: roll back before writing after a caught database error.
            try:
                with _unit_of_work(session):
                    yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return
        # SQLite: end the read, so the write starts its own transaction with the write
        # lock taken up front.
        session.commit()
    with session.begin():
        session.connection(execution_options={IMMEDIATE: True})  # type: ignore[misc]  # our own option
        with _unit_of_work(session):
            yield session


@contextmanager
def _unit_of_work(session: Session) -> Iterator[Session]:
    """Marks the session inside a unit of work while the caller writes."""
    session.info[UNIT_OF_WORK] = True
    try:
        yield session
    finally:
        del session.info[UNIT_OF_WORK]
