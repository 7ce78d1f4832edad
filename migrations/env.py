"""Alembic environment: migrates the engine handed over by surveillance.db.migrate."""

from __future__ import annotations

from alembic import context

from surveillance.db.models import Base

config = context.config
target_metadata = Base.metadata
# Tables that live in our database but are not ours to migrate.
FOREIGN_TABLES = {"apscheduler_jobs"}


def include_object(obj, name, type_, reflected, compare_to):
    """Leave other components' tables out of autogenerate."""
    return not (type_ == "table" and name in FOREIGN_TABLES)


def _engine():
    engine = config.attributes.get("engine")
    if engine is None:  # run by the `alembic` command: use the configured database
        from surveillance.config import load_config
        from surveillance.db.engine import make_engine

        engine = make_engine(load_config().database.url)
    return engine


def run_migrations_online() -> None:
    engine = _engine()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # Batch mode copies and drops tables: with foreign keys enforced, ON DELETE
            # CASCADE would silently delete child rows. The pragma only works outside a
            # transaction, so it goes to the driver before SQLAlchemy begins one.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,
                include_object=include_object,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported")
run_migrations_online()
