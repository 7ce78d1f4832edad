"""The database: models, engines and (in `db.migrate`) the migrations that make the schema."""

from .engine import make_bounded_engine, make_engine, make_sessionmaker, writing

__all__ = ["make_bounded_engine", "make_engine", "make_sessionmaker", "writing"]
