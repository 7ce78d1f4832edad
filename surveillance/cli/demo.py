"""`surveillance demo`: the synthetic demo clinic."""

from __future__ import annotations

from datetime import datetime

import click

from ..db.migrate import upgrade
from ..demo import DEMO_ACCOUNTS, DEMO_CLINIC, DEMO_PASSWORD, load_demo
from .base import Command, load_app, today_option
from .output import fail


@click.command(cls=Command)
@click.option("--patients", default=120, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--seed", default=2025, show_default=True, type=int)
@today_option
@click.pass_context
def demo(ctx: click.Context, patients: int, seed: int, today: datetime | None) -> None:
    """Load synthetic demo patients once and print the demo clinic's code."""
    app = load_app(ctx, today)
    if not app.config.patients.accept_synthetic_ids:
        fail("patients.accept_synthetic_ids is off in this configuration: the demo needs it")
    upgrade(app.engine)
    with app.session() as session:
        loaded = load_demo(session, app.context(), patients, seed)
    if loaded is None:
        click.echo("the demo data is already loaded", err=True)
    for email, role in DEMO_ACCOUNTS:
        click.echo(f"demo login ({role}): {email} / {DEMO_PASSWORD}", err=True)
    click.echo(DEMO_CLINIC[0])
