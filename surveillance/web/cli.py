"""Administration without a browser: `surveillance serve` and `surveillance users ...`."""

from __future__ import annotations

import click

from ..clock import utcnow


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, threads: int) -> None:
    """Serve the dashboard with waitress (no scheduler: run `surveillance worker` for that)."""
    import waitress

    from . import create_app

    app = create_app()
    click.echo(f"dashboard on http://{host}:{port}/")
    waitress.serve(app, host=host, port=port, threads=threads, ident="surveillance")


@click.group()
def users() -> None:
    """Accounts of the dashboard."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["nurse", "admin", "install_admin"]), required=True)
@click.option("--clinic", "clinics", multiple=True, help="Clinic code (repeatable).")
@click.pass_context
def add(ctx, email: str, role: str, clinics: tuple[str, ...]) -> None:
    """Create an account; the password is read from standard input."""
    from ..cli import _app, _read_password
    from ..services.accounts import Admin, add_user

    app = _app(ctx.find_root())
    with app.session() as session:
        add_user(
            session,
            Admin(app.context().actor),
            email=email,
            password=_read_password(),
            role=role,
            clinic_codes=list(clinics),
        )
    click.echo(f"account {email.strip().lower()} created")


@users.command("disable")
@click.argument("email")
@click.pass_context
def disable(ctx, email: str) -> None:
    """Disable an account and end every session of it."""
    _set_active(ctx, email, False)
    click.echo(f"account {email} disabled; its sessions are ended")


@users.command("enable")
@click.argument("email")
@click.pass_context
def enable(ctx, email: str) -> None:
    """Enable a disabled account."""
    _set_active(ctx, email, True)
    click.echo(f"account {email} enabled")


def _set_active(ctx, email: str, active: bool) -> None:
    from ..cli import _app
    from ..services.accounts import Admin, set_active, user_by_email
    from ..errors import InputError

    app = _app(ctx.find_root())
    with app.session() as session:
        user = user_by_email(session, email)
        if user is None:
            raise InputError("email", email, "has no account")
        set_active(session, Admin(app.context().actor), user.id, active, utcnow())


@users.command("list")
@click.pass_context
def list_command(ctx) -> None:
    """Every account: e-mail, role, clinics, active or not."""
    from ..cli import _app
    from ..services.accounts import Admin, list_users

    app = _app(ctx.find_root())
    with app.session() as session:
        for user in list_users(session, Admin(app.context().actor)):
            clinics = ",".join(sorted(c.code for c in user.clinics))
            state = "active" if user.active else "disabled"
            click.echo(f"{user.email:<40} {user.role:<13} {clinics:<20} {state}")


def register(main: click.Group) -> None:
    """Add the web's commands to the `surveillance` command."""
    main.add_command(serve)
    main.add_command(users)
    from ..imports_cli import import_command

    main.add_command(import_command)
    from ..feeds.cli import feeds

    main.add_command(feeds)
