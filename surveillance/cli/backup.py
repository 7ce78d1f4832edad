"""`surveillance backup FILE` and `surveillance restore FILE`: a copy of the SQLite database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from ..db.backup import NotSQLite, backup, restore
from .base import Command, load_app

T = TypeVar("T")


@click.command("backup", cls=Command)
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def backup_command(ctx: click.Context, file: str) -> None:
    """Copy the SQLite database to FILE while the dashboard runs (PostgreSQL: prints pg_dump)."""
    app = load_app(ctx)
    size = _or_command(lambda: backup(app.config.database.url, Path(file)))
    click.echo(f"backup written to {file} ({size:,} bytes)")


@click.command("restore", cls=Command)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Replace every row of the database without asking.")
@click.pass_context
def restore_command(ctx: click.Context, file: str, yes: bool) -> None:
    """Replace the database's content with the backup FILE (stop the dashboard and worker)."""
    app = load_app(ctx)
    if not yes:
        click.confirm("Every row of the database is replaced by the backup. Go on?", abort=True)
    _or_command(lambda: restore(app.config.database.url, Path(file)))
    click.echo(f"database restored from {file}")


def _or_command(run: Callable[[], T]) -> T:
    """Run a backup verb; for PostgreSQL print the command to use instead, and fail."""
    try:
        return run()
    except NotSQLite as refusal:
        click.echo(str(refusal), err=True)
        click.echo(refusal.command)
        raise SystemExit(1) from None
