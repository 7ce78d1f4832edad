"""Alembic, driven from code: the migrations are the only way the schema is made."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig

from ..resources import shipped_dir


def migrations_dir() -> Path:
    """The migrations folder: inside the package in a wheel, at the repository root otherwise."""
    return shipped_dir("migrations", "env.py")


def alembic_config(engine: sa.Engine) -> AlembicConfig:
    """An Alembic configuration that migrates `engine` (no alembic.ini needed)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`."""
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: sa.Engine, revision: str = "base") -> None:
    """Take the schema down to `revision`."""
    command.downgrade(alembic_config(engine), revision)
