"""Backups: SQLite's online backup API (a consistent copy while the dashboard runs); for
PostgreSQL, the pg_dump and pg_restore commands to use instead."""

from __future__ import annotations

import shlex
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from ..errors import ServiceError

PAGES_PER_STEP = 1024  # the copy yields the lock between steps: writers wait at most one step


class NotSQLite(ServiceError):
    """The database is PostgreSQL: its own tools make the backup; `command` says how."""

    def __init__(self, message: str, command: str):
        self.command = command
        super().__init__(message)


def backup(url: str, target: Path) -> int:
    """Copy the SQLite database to `target` (a new file); return its size in bytes."""
    source = _sqlite_path(url, "pg_dump --format=custom --file {file} {url}", target)
    if target.exists():
        raise ServiceError(f"{target} exists already: choose a new file")
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy(source, target)
    return target.stat().st_size


def restore(url: str, source: Path) -> None:
    """Replace the SQLite database's content with the backup `source` (the service stopped)."""
    target = _sqlite_path(url, "pg_restore --clean --if-exists --dbname {url} {file}", source)
    if not source.is_file():
        raise ServiceError(f"{source} is not a file")
    _check_backup(source)
    _copy(source, target)


def _copy(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.execute("PRAGMA busy_timeout=10000")
        dst.execute("PRAGMA busy_timeout=10000")
        src.backup(dst, pages=PAGES_PER_STEP)
    src.close()
    dst.close()


def _check_backup(path: Path) -> None:
    """Refuse a file that is not a SQLite database of this program."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            conn.execute("SELECT version_num FROM alembic_version").fetchone()
        conn.close()
    except sqlite3.DatabaseError:
        raise ServiceError(f"{path} is not a backup of this program's database") from None


def _sqlite_path(url: str, pg_command: str, file: Path) -> Path:
    """The SQLite file of `url`; for PostgreSQL a refusal that carries the command to use."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        # libpq's URL, without the driver name and without the password (use PGPASSWORD).
        plain = sa.URL.create(
            "postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database
        )
        command = pg_command.format(
            file=shlex.quote(str(file)),
            url=shlex.quote(plain.render_as_string(hide_password=False)),
        )
        raise NotSQLite("PostgreSQL is backed up with its own tools; run:", command)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        raise ServiceError(f"cannot back up {parsed.render_as_string()}: not a SQLite file")
    return Path(database)
