"""`surveillance db upgrade` and `surveillance init`: the schema and the first clinic."""

from __future__ import annotations

import click
import sqlalchemy as sa

from ..db.choices import Role
from ..db.migrate import upgrade
from ..db.models import Clinic
from ..services.accounts import Admin, add_user
from ..services.clinics import create_clinic, parse_clinic_code
from ..services.passwords import check_password
from .base import Command, Group, load_app, read_password


@click.group(cls=Group)
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Upgrade the database to the latest schema."""
    upgrade(load_app(ctx).engine)
    click.echo("database is up to date")


@click.command(cls=Command)
@click.option("--clinic", "clinic_code", required=True, help="Code of the first clinic.")
@click.option("--clinic-name", required=True, help="Name of the first clinic.")
@click.option("--admin", "admin_email", required=True, help="E-mail of the first administrator.")
@click.pass_context
def init(ctx: click.Context, clinic_code: str, clinic_name: str, admin_email: str) -> None:
    """Create the database, the first clinic and its installation administrator (password on
    stdin)."""
    app = load_app(ctx)
    # Refuse a bad password before anything is written: no clinic left without its admin.
    password = check_password(read_password())
    admin = Admin(app.context().actor)
    upgrade(app.engine)
    with app.session() as session:
        code = parse_clinic_code(clinic_code)
        if session.scalar(sa.select(Clinic.id).where(Clinic.code == code)) is None:
            create_clinic(session, admin, code, clinic_name)
        add_user(
            session,
            admin,
            email=admin_email,
            password=password,
            role=Role.INSTALL_ADMIN,
            clinic_codes=[code],
        )
    click.echo(f"clinic {clinic_code} and administrator {admin_email} are ready")
