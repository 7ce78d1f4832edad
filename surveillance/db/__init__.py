"""The database: models, engines and the migrations that make the schema."""

from .engine import make_bounded_engine, make_engine, make_sessionmaker, writing
from .migrate import downgrade, upgrade

__all__ = ["downgrade", "make_bounded_engine", "make_engine", "make_sessionmaker", "upgrade", "writing"]
