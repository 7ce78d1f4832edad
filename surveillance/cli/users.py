"""`surveillance users add|disable|enable|list`: the dashboard's accounts without a browser."""

from __future__ import annotations

import click

from ..clock import utcnow
from ..db.choices import Role
from ..users import add_user, list_users, set_active
from .base import Group, load_app, read_password


@click.group(cls=Group)
def users() -> None:
    """Accounts of the dashboard."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
@click.option("--clinic", "clinics", multiple=True, required=True, help="Clinic code (repeatable).")
@click.pass_context
def add(ctx: click.Context, email: str, role: str, clinics: tuple[str, ...]) -> None:
    """Create an account; the password is read from standard input."""
    app = load_app(ctx)
    with app.session() as session:
        add_user(
            session,
            app.context().actor,
            email=email,
            password=read_password(),
            role=role,
            clinic_codes=list(clinics),
        )
    click.echo(f"account {email.strip().lower()} created")


@users.command("disable")
@click.argument("email")
@click.pass_context
def disable(ctx: click.Context, email: str) -> None:
    """Disable an account and end every session of it."""
    _set_active(ctx, email, False)
    click.echo(f"account {email} disabled; its sessions are ended")


@users.command("enable")
@click.argument("email")
@click.pass_context
def enable(ctx: click.Context, email: str) -> None:
    """Enable a disabled account."""
    _set_active(ctx, email, True)
    click.echo(f"account {email} enabled")


def _set_active(ctx: click.Context, email: str, active: bool) -> None:
    app = load_app(ctx)
    with app.session() as session:
        set_active(session, app.context().actor, email, active, utcnow())


@users.command("list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """Every account: e-mail, role, clinics, active or not."""
    app = load_app(ctx)
    with app.session() as session:
        for user in list_users(session):
            clinics = ",".join(sorted(c.code for c in user.clinics))
            state = "active" if user.active else "disabled"
            click.echo(f"{user.email:<40} {user.role:<6} {clinics:<20} {state}")
