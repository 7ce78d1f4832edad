"""`surveillance feeds ...`: calendar feeds from the command line."""

from __future__ import annotations

import click

from ..clock import utcnow
from ..feeds.serve import Feeds, prepare_feeds
from ..feeds.store import (
    create_clinic_feed,
    create_user_feed,
    list_feeds,
    revoke_feed,
    set_details,
    user_by_email,
)
from ..services.lookups import clinic_by_code
from .base import Group, load_app


@click.group(cls=Group)
def feeds() -> None:
    """Calendar feeds (iCal subscriptions by secret address)."""


@feeds.command("create")
@click.option("--clinic", "clinic_code", help="A feed of this clinic's controls.")
@click.option("--user", "email", help="A personal feed: the controls of this user's clinics.")
@click.option("--label", default=None, help="A name for the feed (the device, the office).")
@click.pass_context
def create(ctx, clinic_code: str | None, email: str | None, label: str | None) -> None:
    """Make a feed and print its path, /feeds/<token>.ics, this once only."""
    if (clinic_code is None) == (email is None):
        raise click.UsageError("give one of --clinic CODE and --user EMAIL")
    app = load_app(ctx)
    actor = app.context().actor
    with app.session() as session:
        if clinic_code is not None:
            new = create_clinic_feed(session, actor, clinic_by_code(session, clinic_code).id, label)
        else:
            assert email is not None  # one of the two, checked above
            new = create_user_feed(session, actor, user_by_email(session, email).id, label)
    click.echo(new.path)
    click.echo(
        f"feed {new.id}: the token is shown only this once; the address is "
        f"{app.config.web.base_url.rstrip('/')}{new.path}",
        err=True,
    )


@feeds.command("list")
@click.pass_context
def list_command(ctx) -> None:
    """Every feed: id, whose controls, name, created, revoked or active."""
    app = load_app(ctx)
    with app.session() as session:
        for f in list_feeds(session):
            owner = (
                f"clinic {f.clinic.code}" if f.clinic else f"user {f.user.email if f.user else ''}"
            )
            state = f"revoked {f.revoked_at:%Y-%m-%d}" if f.revoked_at else "active"
            click.echo(
                f"{f.id:>5}  {owner:<40} {f.label or '-':<24} "
                f"{f.created_at:%Y-%m-%d} {f.created_by:<24} {state}"
            )


@feeds.command("revoke")
@click.argument("feed_id", type=int)
@click.pass_context
def revoke(ctx, feed_id: int) -> None:
    """Revoke a feed: its address answers 404 from now on."""
    app = load_app(ctx)
    with app.session() as session:
        revoke_feed(session, app.context().actor, feed_id)
    click.echo(f"feed {feed_id} revoked")


@feeds.command("details")
@click.option("--clinic", "clinic_code", required=True)
@click.argument("switch", type=click.Choice(["on", "off"]))
@click.pass_context
def details(ctx, clinic_code: str, switch: str) -> None:
    """Let a clinic's feeds show names, exam names and places (on), or only references (off)."""
    app = load_app(ctx)
    with app.session() as session:
        set_details(
            session, app.context().actor, clinic_by_code(session, clinic_code).id, switch == "on"
        )
    click.echo(f"feeds of {clinic_code}: details {switch}")


@feeds.command("prepare")
@click.pass_context
def prepare(ctx) -> None:
    """Serialise every live feed's events into the database ahead of the calendars' fetches
    (after an upgrade, or a change of the feeds' settings: minutes for a large clinic)."""
    app = load_app(ctx)
    feeds = Feeds.from_config(app.config)
    with app.session() as session:
        count = prepare_feeds(session, feeds, app.today, utcnow())
    click.echo(
        f"{count} feeds prepared: {feeds.cache.built} events serialised, "
        f"{feeds.cache.reused} kept already"
    )
