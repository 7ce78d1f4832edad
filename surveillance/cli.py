"""The `surveillance` command: set up, load the demo, preview plans, read the worklist."""

from __future__ import annotations

import getpass
import json
import sys
from contextlib import contextmanager
from datetime import date

import click
import sqlalchemy as sa

from .clock import clinic_today
from .config import Config, ConfigError, load_config
from .db import make_engine, make_sessionmaker, upgrade
from .db.models import Clinic, Patient
from .preview import PreviewError, preview
from .services import (
    CATEGORIES,
    Actor,
    Context,
    ServiceError,
    find_by_reference,
    worklist,
)
from .services.unit import transaction
from .services.worklist import LISTS


class App:
    """What the commands share: the configuration, loaded once, and the database."""

    def __init__(self, today: date | None = None):
        self.config: Config = load_config()
        self.today = today or clinic_today(self.config.protocol.timezone)
        self._engine = None

    def close(self) -> None:
        """Close the database connections the command opened."""
        if self._engine is not None:
            self._engine.dispose()

    @property
    def engine(self) -> sa.Engine:
        """The configured database's engine, made on first use."""
        if self._engine is None:
            self._engine = make_engine(self.config.database.url)
        return self._engine

    @contextmanager
    def session(self):
        """A session on the configured database."""
        with make_sessionmaker(self.engine)() as session:
            yield session

    def context(self) -> Context:
        """The service context of a command-line user."""
        return Context.from_config(self.config, Actor(f"cli:{getpass.getuser()}"), self.today)


def _fail(message: str, status: int = 2):
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


class Group(click.Group):
    """Turns refusals into one line on standard error, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ConfigError, ServiceError, PreviewError) as exc:
            _fail(str(exc))
        except sa.exc.OperationalError as exc:
            _fail("database: " + " ".join(str(exc.orig).split()))  # the driver's text spans lines


pass_app = click.make_pass_decorator(App)
today_option = click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Act as if today were this date (default: the clinic's today).",
)


@click.group(cls=Group)
@click.version_option(package_name="surveillance")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Follow-up of patients treated for colorectal liver metastases."""
    ctx.obj = None


def _app(ctx: click.Context, today=None) -> App:
    ctx.obj = App(today.date() if today else None)
    ctx.call_on_close(ctx.obj.close)
    return ctx.obj


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx) -> None:
    """Upgrade the database to the latest schema."""
    upgrade(_app(ctx).engine)
    click.echo("database is up to date")


@main.command()
@click.option("--clinic", "clinic_code", required=True, help="Code of the first clinic.")
@click.option("--clinic-name", required=True, help="Name of the first clinic.")
@click.option("--admin", "admin_email", required=True, help="E-mail of the first administrator.")
@click.pass_context
def init(ctx, clinic_code: str, clinic_name: str, admin_email: str) -> None:
    """Create the database, the first clinic and its installation administrator (password on
    stdin)."""
    from .services.accounts import INSTALL_ADMIN, Admin, add_user
    from .services.clinics import create_clinic, parse_clinic_code
    from .services.passwords import check_password

    app = _app(ctx)
    # Refuse a bad password before anything is written: no clinic left without its admin.
    password = check_password(_read_password())
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
            role=INSTALL_ADMIN,
            clinic_codes=[code],
        )
    click.echo(f"clinic {clinic_code} and administrator {admin_email} are ready")


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


@main.command()
@click.option("--patients", default=120, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--seed", default=2025, show_default=True, type=int)
@today_option
@click.pass_context
def demo(ctx, patients: int, seed: int, today) -> None:
    """Load synthetic demo patients once and print the demo clinic's code."""
    from .demo import DEMO_ACCOUNTS, DEMO_CLINIC, DEMO_PASSWORD, load_demo

    app = _app(ctx, today)
    if not app.config.patients.accept_synthetic_ids:
        _fail("patients.accept_synthetic_ids is off in this configuration: the demo needs it")
    upgrade(app.engine)
    with app.session() as session:
        loaded = load_demo(session, app.context(), patients, seed)
    if loaded is None:
        click.echo("the demo data is already loaded", err=True)
    for email, role in DEMO_ACCOUNTS:
        click.echo(f"demo login ({role}): {email} / {DEMO_PASSWORD}", err=True)
    click.echo(DEMO_CLINIC[0])


@main.command("preview")
@click.argument("source", metavar="FILE|-")
def preview_command(source: str) -> None:
    """Print the plan for one patient's history (JSON, FILE or - for standard input)."""
    try:
        config = load_config()
        plan = preview(_read_source(source), config.settings, config.protocol.default)
    except (PreviewError, ConfigError) as exc:
        _fail(str(exc).replace("\n", " "))
    click.echo(json.dumps(plan, indent=2, ensure_ascii=False))


def _read_source(source: str) -> str:
    """The text of FILE, or of standard input for -; refused in one line if unreadable."""
    try:
        if source == "-":
            return sys.stdin.buffer.read().decode("utf-8")
        with open(source, encoding="utf-8") as file:
            return file.read()
    except UnicodeDecodeError:
        raise PreviewError("input: not UTF-8 text") from None
    except OSError as exc:
        raise PreviewError(f"input: cannot read {source!r}: {exc.strerror}") from None


@main.command("worklist")
@click.option("--clinic", "clinic_code", required=True)
@click.option(
    "--list", "category", type=click.Choice(CATEGORIES), default=None, help="Only this list."
)
@click.option("--exam", type=click.Choice(["ct_tap", "cea", "ct_liver"]), default=None)
@click.option("--page", default=1, type=click.IntRange(1))
@today_option
@click.pass_context
def worklist_command(ctx, clinic_code: str, category, exam, page: int, today) -> None:
    """Print a clinic's worklist: overdue first."""
    from .services.patients import clinic_by_code

    app = _app(ctx, today)
    with app.session() as session:
        clinic = clinic_by_code(session, clinic_code)
        result = worklist(
            session,
            app.context(),
            [clinic.id],
            category=category,
            code=exam,
            page=page,
            page_size=app.config.worklist.page_size,
        )
    click.echo(f"{clinic.name} ({clinic.code}), {app.today.isoformat()}")
    click.echo("  ".join(f"{name}: {result.counts[name]}" for name in LISTS))
    for item in result.items:
        late = f"{item.days_late:+d} d"
        click.echo(
            f"{item.category:<16} {item.reference:<8} {item.name:<28} "
            f"{'+'.join(item.codes):<18} {item.due} {item.due_working_day} {late:>7}"
        )
    pages = max(1, -(-result.total // result.page_size))
    click.echo(f"page {result.page} of {pages}, {result.total} controls")


@main.group()
def patient() -> None:
    """One patient."""


@patient.command("show")
@click.argument("reference")
@today_option
@click.pass_context
def patient_show(ctx, reference: str, today) -> None:
    """Show a patient's history and plan by local reference (P-0042)."""
    from .services.audit import record_event

    app = _app(ctx, today)
    app_ctx = app.context()
    with app.session() as session:
        found = find_by_reference(session, app_ctx, reference)
        _print_patient(app_ctx, found)
        with transaction(session):
            record_event(session, app_ctx.actor, "patient.view", found.id)


def _print_patient(ctx: Context, p: Patient) -> None:
    click.echo(
        f"{ctx.reference(p.local_number)}  {p.name}  born {p.birth_date}  "
        f"protocol {p.protocol}  status {p.status}"
        + (f" ({p.status_reason})" if p.status_reason else "")
    )
    if p.mdt_review:
        click.echo(f"needs MDT review: {p.mdt_reason}")
    for t in p.treatments:
        click.echo(f"treatment  {t.date}  {t.kind}" + ("  (deleted)" if t.voided_at else ""))
    for c in p.primary_controls:
        click.echo(f"primary    {c.date}  {c.exams}")
    for e in p.exams:
        detail = {
            "booked": f"booked {e.booked_date}",
            "cancelled": e.cancel_reason or "",
            "done": f"done {e.done_date} {_result(e)}".rstrip(),
            "missed": e.missed_reason or "",
        }.get(e.state, "")
        if e.coordinated_date:
            detail += f" coordinated with {e.coordinated_date}"
        click.echo(
            f"exam  {e.due}  {e.due_working_day}  m{e.month:<3} {e.code:<9} {e.state:<9} {detail}"
        )


def _result(exam) -> str:
    if exam.result is not None:
        return exam.result
    return "" if exam.result_value is None else f"{exam.result_value:g} µg/L"


def _register_components() -> None:
    """The dashboard's commands live with the dashboard."""
    from .web.cli import register

    register(main)
    from .reminders.cli import reminders, worker

    main.add_command(reminders)
    main.add_command(worker)
    from .admin_cli import register as register_admin

    register_admin(main)


_register_components()
