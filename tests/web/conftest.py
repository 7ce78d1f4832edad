"""Fixtures of the dashboard's tests: the app on the test database, users who log in through
the real form, two clinics with a patient each, and the table of every route."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_login import login_required

from surveillance.clock import clinic_today
from surveillance.config import Config, load_config
from surveillance.db.models import AuditEvent, Base, Clinic, Patient, PlannedExam
from surveillance.services import Actor, Context, register_patient
from surveillance.services.accounts import Admin, add_user
from surveillance.web import create_app
from tests.support.apps import sharing_templates
from tests.support.data import keep_ids, synthetic_id
from tests.support.rows import Rows, is_empty, put_back, take_rows

from .browsing import PASSWORD, Browser
from .route_table import FAILING_PATH, PUBLIC, ROUTES, RouteCase, Setup

# A session's last-seen time is the login's bookkeeping, not data a page may not change.
# Nor are a calendar feed's cache validators, which serving the feed keeps up to date.
VOLATILE = {
    ("user_sessions", "last_seen_at"),
    ("calendar_feeds", "etag"),
    ("calendar_feeds", "modified_at"),
}
# Nor is an API token's count of requests, which every request with it keeps (rate limit), nor
# the calendar events a feed's GET serialises and keeps for the next process (a cache).
VOLATILE_TABLES = {"api_rate_counts", "feed_events"}


# ---- the application --------------------------------------------------------------------


def web_config(url: str, instance_dir: str, **web) -> Config:
    """The configuration of the tests: this database, synthetic IDs, a fixed secret key."""
    base = load_config(environ={})
    return replace(
        base,
        database=replace(base.database, url=url),
        patients=replace(base.patients, accept_synthetic_ids=True),
        web=replace(base.web, secret_key="t" * 32, instance_dir=instance_dir, **web),
    )


def build_app(config: Config) -> Flask:
    """The dashboard, plus a page that fails so the error page can be seen."""
    app = sharing_templates(create_app(config, {"TESTING": True, "PROPAGATE_EXCEPTIONS": False}))

    @login_required
    def fail():
        raise RuntimeError("a secret detail that must not reach the page")

    app.add_url_rule(FAILING_PATH, "_test.fail", fail)
    return app


@cache
def collection_app() -> Flask:
    """An app that is never served: its url_map says which routes there are."""
    return build_app(web_config("sqlite://", "/nonexistent"))


def pytest_generate_tests(metafunc):
    """Parametrise tests over the routes of the url_map: a new route is covered at once."""
    subsets = {
        "any_route": lambda case: True,
        "get_route": lambda case: case.method == "GET",
        "post_route": lambda case: case.method == "POST",
        "private_get_route": lambda case: case.method == "GET" and case.endpoint not in PUBLIC,
        "private_post_route": lambda case: case.method == "POST" and case.endpoint not in PUBLIC,
        "scoped_route": lambda case: case.scoped,
        # posts that change a record (a route without a row is kept, to fail with a message)
        "audited_route": lambda case: (
            case.method == "POST" and (case.endpoint not in ROUTES or ROUTES[case.endpoint].event)
        ),
    }
    for name, keep in subsets.items():
        if name in metafunc.fixturenames:
            cases = [c for c in route_cases() if keep(c)]
            metafunc.parametrize(name, cases, ids=[c.id for c in cases])


@cache
def route_cases() -> tuple[RouteCase, ...]:
    """Every rule and method of the app (HEAD and OPTIONS are Flask's own)."""
    rules = sorted(collection_app().url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    return tuple(
        RouteCase(rule.endpoint, rule.rule, method, frozenset(rule.arguments))
        for rule in rules
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    )


@pytest.fixture
def make_app(engine, session, tmp_path):
    """A factory of apps on the test database; keyword arguments override [web] settings."""
    apps = []

    def make(**web) -> Flask:
        url = engine.url.render_as_string(hide_password=False)
        apps.append(build_app(web_config(url, str(tmp_path), **web)))
        return apps[-1]

    yield make
    for app in apps:  # before `session` empties the tables: no connection may hold a lock
        app.extensions["surveillance"].sessions.kw["bind"].dispose()


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


# ---- the database as a test sees it -------------------------------------------------------


class Db:
    """Fresh reads of what the app wrote, snapshots of every table, and the audit log."""

    def __init__(self, session, engine):
        self.session, self.engine = session, engine

    def _forget(self) -> None:
        """End the session's read and forget what it loaded: the app has written since."""
        self.session.rollback()
        self.session.expire_all()

    def get(self, model, key):
        """A row as it is now."""
        self._forget()
        return self.session.get(model, key)

    def scalars(self, statement) -> list:
        self._forget()
        return list(self.session.scalars(statement))

    def count(self, model, *where) -> int:
        self._forget()
        return self.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))

    def events(self, action: str | None = None, patient_id: int | None = None) -> list[AuditEvent]:
        """Audit events, oldest first, maybe of one action or patient."""
        query = sa.select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        if patient_id:
            query = query.where(AuditEvent.patient_id == patient_id)
        return self.scalars(query)

    def snapshot(self, *, audit: bool = True) -> dict[str, list]:
        """Every row of every table (audit_events only if `audit`)."""
        state = {}
        with self.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                if (table.name == "audit_events" and not audit) or table.name in VOLATILE_TABLES:
                    continue
                columns = [c for c in table.c if (table.name, c.name) not in VOLATILE]
                query = sa.select(*columns).order_by(*table.primary_key.columns)
                state[table.name] = [tuple(row) for row in conn.execute(query)]
        return state


@pytest.fixture
def db(session, engine) -> Db:
    return Db(session, engine)


@pytest.fixture
def sql_sent(app):
    """The SQL statements the app sends from now on, in order."""
    sent: list[str] = []
    engine = app.extensions["surveillance"].sessions.kw["bind"]

    def keep(_conn, _cursor, statement, *_rest) -> None:
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", keep)
    yield sent
    sa.event.remove(engine, "before_cursor_execute", keep)


@pytest.fixture
def log_in(app):
    """Log a new browser in through the login form; returns the browser (or the refusal)."""

    def log_in_(
        email: str,
        password: str = PASSWORD,
        *,
        address: str = "127.0.0.1",
        expect_success: bool = True,
    ):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        browser = Browser(client)
        page = browser.get("/login")
        answer = browser.submit(page, "", email=email, password=password)
        if expect_success:
            assert answer.status_code == 302, f"login of {email} refused"
            return browser
        return answer

    return log_in_


@pytest.fixture
def anonymous(app) -> Browser:
    return Browser(app.test_client())


# ---- two clinics, their people and a patient each -----------------------------------------


@dataclass
class Side:
    """One clinic with a nurse, an administrator and a patient in follow-up."""

    code: str
    clinic_id: int
    nurse: str
    admin: str
    patient_id: int
    user_id: int = 0  # the nurse's account


@dataclass
class World:
    """Clinic A, whose people the tests log in as, and clinic B, whose data they must not reach."""

    a: Side
    b: Side
    today: date
    ctx: Context
    installer: str = "installer@test"  # the installation administrator, also a member of A

    def side(self, name: str) -> Side:
        return self.a if name == "a" else self.b


def setup_context(config: Config) -> Context:
    """The services' context of the set-up: the clinic's real today, as the app has it."""
    return Context.from_config(config, Actor("setup@test"), clinic_today(config.protocol.timezone))


@pytest.fixture
def ctx_today(app) -> Context:
    return setup_context(app.extensions["surveillance"].config)


@pytest.fixture
def create_user(session):
    """Make an account; returns its e-mail."""

    def create(email: str, role: str = "nurse", clinics: tuple[str, ...] = ("A",)) -> str:
        add_user(
            session,
            Admin(Actor("setup@test")),
            email=email,
            password=PASSWORD,
            role=role,
            clinic_codes=list(clinics),
        )
        return email

    return create


@pytest.fixture
def create_clinic(session):
    """Make a clinic; returns its id."""

    def create(code: str, name: str | None = None) -> int:
        with session.begin():
            clinic = Clinic(code=code, name=name or f"Klinikk {code}")
            session.add(clinic)
        return clinic.id

    return create


@pytest.fixture
def make_patient(session, ctx_today):
    """Register a patient treated `treated_days_ago` (a plan with overdue and coming exams)."""

    def make(
        clinic_code: str = "A",
        *,
        name: str = "Kari Nordmann",
        treated_days_ago: int = 170,
        kind: str = "resection_with_ablation",
        national_id: str | None = None,
    ) -> Patient:
        day = ctx_today.today - timedelta(days=treated_days_ago)
        return register_patient(
            session,
            ctx_today,
            clinic_code=clinic_code,
            national_id=national_id or synthetic_id(),
            name=name,
            treatment_date=day,
            treatment_kind=kind,
        )

    return make


# Each database's world as first built on a day, and its rows: put back for the next tests.
BUILT_WORLDS: dict[tuple[str, date], tuple[World, Rows]] = {}


@pytest.fixture
def world(engine, create_clinic, create_user, make_patient, ctx_today) -> World:
    """Clinics A and B, each with a nurse, an administrator and a patient; an installation
    administrator over both.

    Built through the services once per process, database and day (the plans follow the
    day), then its rows are put back into the test's empty database."""
    key = (engine.url.render_as_string(), ctx_today.today)
    if not is_empty(engine):  # a fixture wrote before: build among its rows
        return build_world(create_clinic, create_user, make_patient, ctx_today)
    if key in BUILT_WORLDS:
        built, rows = BUILT_WORLDS[key]
        put_back(engine, rows)
        return replace(built, a=replace(built.a), b=replace(built.b), ctx=ctx_today)
    built = build_world(create_clinic, create_user, make_patient, ctx_today)
    BUILT_WORLDS[key] = (replace(built, a=replace(built.a), b=replace(built.b)), take_rows(engine))
    keep_ids(*(patient["national_id"] for patient in BUILT_WORLDS[key][1]["patients"]))
    return built


def build_world(create_clinic, create_user, make_patient, ctx_today) -> World:
    sides = {}
    for code in ("A", "B"):
        clinic_id = create_clinic(code)
        nurse = create_user(f"nurse.{code.lower()}@test", "nurse", (code,))
        admin = create_user(f"admin.{code.lower()}@test", "admin", (code,))
        patient = make_patient(code, name=f"Pasient {code}")
        sides[code] = Side(code, clinic_id, nurse, admin, patient.id)
    installer = create_user("installer@test", "install_admin", ("A",))
    return World(sides["A"], sides["B"], ctx_today.today, ctx_today, installer)


@pytest.fixture
def exam_of(db):
    """The first exam of a patient with a code and state (the page's forms act on exams)."""

    def exam_of_(patient_id: int, code: str = "cea", state: str = "open") -> PlannedExam:
        exams = db.scalars(
            sa.select(PlannedExam)
            .where(
                PlannedExam.patient_id == patient_id,
                PlannedExam.code == code,
                PlannedExam.state == state,
            )
            .order_by(PlannedExam.due)
        )
        assert exams, f"patient {patient_id} has no {state} {code} exam"
        return exams[0]

    return exam_of_


# ---- the fuzz suite's count of requests, printed at the end of the run --------------------

FUZZ_SENT: dict[str, dict[str, int]] = {}


@pytest.fixture
def fuzz_tally(engine):
    """Count a fuzz request's answer under its database; 5xx apart."""
    counts = FUZZ_SENT.setdefault(engine.dialect.name, {"requests": 0, "5xx": 0})

    def tally(status: int) -> None:
        counts["requests"] += 1
        counts["5xx"] += status >= 500

    return tally


def pytest_terminal_summary(terminalreporter):
    """How many requests the fuzz suite sent, per database, and how many server errors."""
    for backend, counts in sorted(FUZZ_SENT.items()):
        terminalreporter.write_line(
            f"fuzz on {backend}: {counts['requests']:,} requests, {counts['5xx']} answered 5xx"
        )


@pytest.fixture
def setup_for(world, session):
    """The Setup of clinic "a" or "b" for the route table's rows."""

    def setup(side: str = "a") -> Setup:
        s = world.side(side)
        return Setup(session, world.ctx, s.clinic_id, s.patient_id, s.nurse, synthetic_id)

    return setup


@pytest.fixture
def nurse(world, log_in):
    """Clinic A's nurse, logged in."""
    return log_in(world.a.nurse)


@pytest.fixture
def patient_page(nurse, world):
    """Clinic A's patient's page, as the nurse opens it."""
    return lambda: nurse.get(f"/patients/{world.a.patient_id}")
