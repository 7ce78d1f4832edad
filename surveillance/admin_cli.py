"""Commands of an installation administrator: edit accounts, back up and restore the data."""

from __future__ import annotations

import click

from .clock import utcnow


@click.command("edit")
@click.argument("email")
@click.option("--name", default=None, help="The account's name.")
@click.option("--role", type=click.Choice(["nurse", "admin", "install_admin"]), default=None)
@click.option("--clinic", "clinics", multiple=True, help="Clinic code (repeatable): all of them.")
@click.pass_context
def users_edit(ctx, email: str, name: str | None, role: str | None, clinics: tuple[str, ...]):
    """Change an account's name, role or clinics (what is not given stays)."""
    from .cli import _app
    from .services.accounts import Admin, edit_user

    app = _app(ctx.find_root())
    with app.session() as session:
        user = _account(session, email)
        edit_user(
            session,
            Admin(app.context().actor),
            user.id,
            name=user.name if name is None else name,
            role=role or user.role,
            clinic_codes=list(clinics) or [c.code for c in user.clinics],
            expected_version=user.version,
        )
    click.echo(f"account {user.email} saved")


@click.command("password")
@click.argument("email")
@click.pass_context
def users_password(ctx, email: str) -> None:
    """Give an account a new password (read from standard input); its sessions end."""
    from .cli import _app, _read_password
    from .services.accounts import Admin, reset_password

    app = _app(ctx.find_root())
    with app.session() as session:
        user = _account(session, email)
        reset_password(session, Admin(app.context().actor), user.id, _read_password(), utcnow())
    click.echo(f"account {user.email} has a new password; its sessions are ended")


def _account(session, email: str):
    from .errors import InputError
    from .services.accounts import user_by_email

    user = user_by_email(session, email)
    if user is None:
        raise InputError("email", email, "has no account")
    return user


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def backup_command(ctx, file: str) -> None:
    """Copy the SQLite database to FILE while the dashboard runs (PostgreSQL: prints pg_dump)."""
    from pathlib import Path

    from .cli import _app
    from .db.backup import backup

    app = _app(ctx.find_root())
    size = _or_command(lambda: backup(app.config.database.url, Path(file)))
    click.echo(f"backup written to {file} ({size:,} bytes)")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Replace every row of the database without asking.")
@click.pass_context
def restore_command(ctx, file: str, yes: bool) -> None:
    """Replace the database's content with the backup FILE (stop the dashboard and worker)."""
    from pathlib import Path

    from .cli import _app
    from .db.backup import restore

    app = _app(ctx.find_root())
    if not yes:
        click.confirm("Every row of the database is replaced by the backup. Go on?", abort=True)
    _or_command(lambda: restore(app.config.database.url, Path(file)))
    click.echo(f"database restored from {file}")


def _or_command(run):
    """Run a backup verb; for PostgreSQL print the command to use instead, and fail."""
    from .db.backup import NotSQLite

    try:
        return run()
    except NotSQLite as refusal:
        click.echo(str(refusal), err=True)
        click.echo(refusal.command)
        raise SystemExit(1) from None


def register(main: click.Group) -> None:
    """Add these commands: backup and restore at the top, edit and password under users."""
    main.add_command(backup_command)
    main.add_command(restore_command)
    users = main.commands["users"]
    assert isinstance(users, click.Group)
    users.add_command(users_edit)
    users.add_command(users_password)
