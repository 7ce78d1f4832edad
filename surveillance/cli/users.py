"""`surveillance users add|edit|password|disable|enable|list`: the dashboard's accounts
without a browser (the command line acts as the installation administrator)."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..db.choices import Role
from ..db.models import User
from ..errors import InputError
from ..services.accounts import (
    Admin,
    add_user,
    edit_user,
    list_users,
    reset_password,
    set_active,
    user_by_email,
)
from .base import Group, load_app, read_password


@click.group(cls=Group)
def users() -> None:
    """Accounts of the dashboard."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
@click.option("--clinic", "clinics", multiple=True, help="Clinic code (repeatable).")
@click.pass_context
def add(ctx: click.Context, email: str, role: str, clinics: tuple[str, ...]) -> None:
    """Create an account; the password is read from standard input."""
    app = load_app(ctx)
    with app.session() as session:
        add_user(
            session,
            Admin(app.context().actor),
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
        user = _account(session, email)
        set_active(session, Admin(app.context().actor), user.id, active, utcnow())


@users.command("edit")
@click.argument("email")
@click.option("--name", default=None, help="The account's name.")
@click.option("--role", type=click.Choice([role.value for role in Role]), default=None)
@click.option("--clinic", "clinics", multiple=True, help="Clinic code (repeatable): all of them.")
@click.pass_context
def edit(
    ctx: click.Context, email: str, name: str | None, role: str | None, clinics: tuple[str, ...]
) -> None:
    """Change an account's name, role or clinics (what is not given stays)."""
    app = load_app(ctx)
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


@users.command("password")
@click.argument("email")
@click.pass_context
def password(ctx: click.Context, email: str) -> None:
    """Give an account a new password (read from standard input); its sessions end."""
    app = load_app(ctx)
    with app.session() as session:
        user = _account(session, email)
        reset_password(session, Admin(app.context().actor), user.id, read_password(), utcnow())
    click.echo(f"account {user.email} has a new password; its sessions are ended")


def _account(session: Session, email: str) -> User:
    user = user_by_email(session, email)
    if user is None:
        raise InputError("email", email, "has no account")
    return user


@users.command("list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """Every account: e-mail, role, clinics, active or not."""
    app = load_app(ctx)
    with app.session() as session:
        for user in list_users(session, Admin(app.context().actor)):
            clinics = ",".join(sorted(c.code for c in user.clinics))
            state = "active" if user.active else "disabled"
            click.echo(f"{user.email:<40} {user.role:<13} {clinics:<20} {state}")
