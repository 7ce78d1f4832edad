"""`surveillance reminders send|status|recipients|opt-in` and `surveillance worker`."""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import click

from ..clock import utcnow
from ..db.choices import DigestState
from ..db.engine import make_bounded_engine
from ..reminders.daily import SenderBusy, send_daily
from ..reminders.mail import make_backend
from ..reminders.outbox import recent
from ..reminders.recipients import clinic_recipients, set_clinic_digest, set_opt_in
from ..reminders.worker import run_worker
from ..services.lookups import clinic_by_code
from .base import Command, Group, load_app

EX_TEMPFAIL = 75  # sysexits.h: try again later
MIME_PLUMBING = ("content-type", "content-transfer-encoding", "mime-version")


@click.group(cls=Group)
def reminders() -> None:
    """The daily digest e-mails."""


@reminders.command("send")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The digest's day (default: the clinic's today).",
)
@click.option("--clinic", "clinic_code", default=None, help="Only this clinic.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print each e-mail in full to standard output; record and send nothing.",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Send the day's failed digests again (once their cause is fixed).",
)
@click.pass_context
def send(ctx, day, clinic_code: str | None, dry_run: bool, retry_failed: bool) -> None:
    """Make and send the day's digests; a rerun sends nothing new."""
    app = load_app(ctx, day)
    backend = None if dry_run else make_backend(app.config.mail)
    try:
        outcomes = send_daily(
            app.engine,
            app.config,
            backend,
            today=app.today,
            now=utcnow(),
            clinic_code=clinic_code,
            dry_run=dry_run,
            retry_failed=retry_failed,
        )
    except SenderBusy as exc:
        click.echo(f"error: {exc}; try again later", err=True)
        sys.exit(EX_TEMPFAIL)
    _report(outcomes, dry_run)
    if any(o.state in ("failed", "retry") for o in outcomes):
        sys.exit(1)


def _report(outcomes, dry_run: bool) -> None:
    for outcome in outcomes:
        if outcome.message is not None:
            click.echo(readable(outcome.message))
        click.echo(
            f"{outcome.clinic} {outcome.day}: {outcome.state.replace('_', ' ')}"
            + (f" ({outcome.detail})" if outcome.detail else ""),
            err=dry_run,
        )
    if not outcomes:
        click.echo("nothing new to send", err=dry_run)


def readable(message: EmailMessage) -> str:
    """An e-mail as a person reads it: its headers, then each part decoded."""
    headers = [
        f"{name}: {value}" for name, value in message.items() if name.lower() not in MIME_PLUMBING
    ]
    parts = [
        f"--- {part.get_content_type()} ---\n{part.get_content().rstrip()}"
        for part in message.iter_parts()
    ]
    return "\n".join(headers) + "\n\n" + "\n\n".join(parts) + "\n"


@reminders.command("status")
@click.option("--clinic", "clinic_code", default=None, help="Only this clinic.")
@click.option(
    "--days", default=14, show_default=True, type=click.IntRange(1), help="How many days back."
)
@click.pass_context
def status(ctx, clinic_code: str | None, days: int) -> None:
    """The digests of the last days: sent, pending (and when next tried), failed and why."""
    app = load_app(ctx)
    tz = ZoneInfo(app.config.protocol.timezone)
    with app.session() as session:
        clinic_id = clinic_by_code(session, clinic_code).id if clinic_code else None
        rows = recent(
            session,
            app.today - timedelta(days=days - 1),
            None if clinic_id is None else [clinic_id],
        )
        lines = [_status_line(row, tz) for row in rows]
    click.echo(f"{'day':<10}  {'clinic':<8}  {'state':<8}  tries  {'when':<16}  message-id")
    for line in lines:
        click.echo(line)
    failed = sum(row.state == DigestState.FAILED for row in rows)
    click.echo(f"{len(rows)} digests, {failed} failed" if rows else "no digests in these days")


def _status_line(row, tz: ZoneInfo) -> str:
    when = row.sent_at if row.state == DigestState.SENT else row.next_attempt_at
    shown = when.astimezone(tz).strftime("%Y-%m-%d %H:%M") if when else ""
    line = (
        f"{row.day}  {row.clinic.code:<8}  {row.state:<8}  {row.attempts:>5}  {shown:<16}  "
        f"{row.message_id}"
    )
    return line + (f"\n            error: {row.last_error}" if row.last_error else "")


@reminders.command("recipients")
@click.option("--clinic", "clinic_code", required=True)
@click.option(
    "--set",
    "addresses",
    default=None,
    help='The clinic\'s recipients, comma-separated ("" for none).',
)
@click.option(
    "--references/--no-references",
    default=None,
    help="Name patients by local reference in the e-mail (off unless chosen).",
)
@click.pass_context
def recipients(ctx, clinic_code: str, addresses: str | None, references: bool | None) -> None:
    """Show, or change, who gets a clinic's digest and what it may name."""
    app = load_app(ctx)
    with app.session() as session:
        if addresses is not None or references is not None:
            set_clinic_digest(
                session,
                app.context().actor,
                clinic_code,
                recipients=addresses,
                include_references=references,
            )
        clinic = clinic_by_code(session, clinic_code)
        everyone = clinic_recipients(session, clinic)
    click.echo(f"{clinic.code}: listed: {clinic.digest_recipients or '(none)'}")
    click.echo(
        f"{clinic.code}: all recipients, with users who opted in: "
        f"{', '.join(everyone) or '(none: no digest is made)'}"
    )
    click.echo(
        f"{clinic.code}: local references in the e-mail: "
        f"{'yes' if clinic.digest_include_references else 'no'}"
    )


@reminders.command("opt-in")
@click.argument("email")
@click.option("--off", is_flag=True, help="Stop getting the digests.")
@click.pass_context
def opt_in(ctx, email: str, off: bool) -> None:
    """A user starts (or with --off stops) getting the digests of their clinics."""
    app = load_app(ctx)
    with app.session() as session:
        user = set_opt_in(session, app.context().actor, email, not off)
    click.echo(f"{user.email}: {'no longer gets' if off else 'gets'} the daily digests")


@click.command("worker", cls=Command)
@click.pass_context
def worker(ctx) -> None:
    """Run the scheduler that sends the daily digests: one per deployment, never in the web."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app = load_app(ctx)
    engine = make_bounded_engine(app.config.database)
    try:
        run_worker(engine, app.config, make_backend(app.config.mail))
    finally:
        engine.dispose()
