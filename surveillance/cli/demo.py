"""`surveillance demo`: the synthetic demo clinic."""

from __future__ import annotations

from datetime import datetime

import click

from ..db.migrate import upgrade
from ..demo import DEMO_ACCOUNTS, DEMO_CLINIC, DEMO_PASSWORD, load_demo
from ..i18n import translations
from .base import Command, load_app, today_option
from .output import fail


@click.command(cls=Command)
@click.option("--patients", default=120, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--seed", default=2025, show_default=True, type=int)
@today_option
@click.pass_context
def demo(ctx: click.Context, patients: int, seed: int, today: datetime | None) -> None:
    """Load synthetic demo patients once and print the demo clinic's code."""
    # The code alone on standard output (for scripts); what happened, in words, on stderr.
    app = load_app(ctx, today)
    if not app.config.patients.accept_synthetic_ids:
        fail("patients.accept_synthetic_ids is off in this configuration: the demo needs it")
    upgrade(app.engine)
    with app.session() as session:
        loaded = load_demo(session, app.context(), patients, seed)
    words = translations(app.config.web.default_language)
    if loaded is None:
        click.echo(words.gettext("The demo is already loaded: nothing was added."), err=True)
    else:
        summary = words.ngettext(
            "%(num)d demo patient loaded into clinic %(clinic)s",
            "%(num)d demo patients loaded into clinic %(clinic)s",
            patients,
        )
        click.echo(summary % {"num": patients, "clinic": loaded}, err=True)
    for email, role in DEMO_ACCOUNTS:
        click.echo(f"demo login ({role}): {email} / {DEMO_PASSWORD}", err=True)
    click.echo(DEMO_CLINIC[0])
