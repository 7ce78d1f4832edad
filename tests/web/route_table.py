"""How to reach every route of the dashboard: who may, what to fill in, what a valid post does.

A route of the url_map without a row here fails the route tests until someone adds one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from surveillance.db.models import LiverTreatment, Patient, PlannedExam, User
from surveillance.feeds.store import NewFeed, create_clinic_feed
from surveillance.fhir.tokens import NewApiToken, create_api_token
from surveillance.services import (
    Actor,
    Context,
    end_surveillance,
    record_booking,
    record_decision,
    record_primary_control,
    record_result,
    record_treatment,
)

from .browsing import PASSWORD, Attachment

# Routes anyone may use: the login page, static files, and the language choice, which the
# login page offers too and which changes nothing but the visitor's own cookie.
# A calendar feed needs no login either: its secret token is the key; the load balancer's
# health check says only whether the database answers. Nor does the FHIR API,
# whose bearer token is (a browser sends none: 401), and its metadata is for anyone.
FHIR_READS = frozenset(
    "fhir.read_" + name
    for name in ("Patient", "Procedure", "CarePlan", "ServiceRequest", "Observation", "Flag")
)
FHIR_BULK = frozenset(
    {"export", "export_patients", "export_status", "export_delete", "export_file"}
)
FHIR_BULK = frozenset(f"fhir.{name}" for name in FHIR_BULK)
FHIR = FHIR_READS | FHIR_BULK | {"fhir.metadata", "fhir.search_patients", "fhir.everything"}
PUBLIC = (
    frozenset({"auth.login", "static", "i18n.choose_language", "feeds.feed", "health.healthz"})
    | FHIR
)
FAILING_PATH = "/_test/fail"  # a test-only page that raises, for the error page
# URL arguments that name a clinic's data: another clinic's user must get 404.
SCOPED_ARGUMENTS = frozenset(
    {"patient_id", "exam_id", "treatment_id", "feed_id", "control_id", "decision_id"}
)


@dataclass
class Setup:
    """One clinic's data as a route's row needs it, prepared through the services."""

    session: object
    ctx: Context
    clinic_id: int
    patient_id: int
    nurse: str
    new_national_id: Callable[[], str]

    @property
    def today(self) -> date:
        return self.ctx.today

    def day(self, offset: int) -> str:
        return (self.today + timedelta(days=offset)).isoformat()

    def forget(self) -> None:
        """Forget what the session read: the services or the app have written since."""
        self.session.rollback()
        self.session.expire_all()

    def patient(self) -> Patient:
        self.forget()
        return self.session.get(Patient, self.patient_id)

    def exam(self, code: str = "cea", state: str = "open") -> PlannedExam:
        self.forget()
        return self.session.scalars(
            sa.select(PlannedExam)
            .where(
                PlannedExam.patient_id == self.patient_id,
                PlannedExam.code == code,
                PlannedExam.state == state,
            )
            .order_by(PlannedExam.due)
        ).first()

    def treatment(self) -> LiverTreatment:
        return self.patient().treatments[0]

    def clinic_feed(self) -> NewFeed:
        return create_clinic_feed(self.session, Actor("setup@test"), self.clinic_id, "Poliklinikk")

    def api_token(self) -> NewApiToken:
        return create_api_token(self.session, Actor("setup@test"), self.clinic_id, "EPJ")

    def user_id(self) -> int:
        return self.session.scalar(sa.select(User.id).where(User.email == self.nurse))

    def account(self, **form) -> Reach:
        """The clinic's nurse's account, as an account form carries it."""
        self.forget()
        user = self.session.scalar(sa.select(User).where(User.email == self.nurse))
        return Reach({"user_id": user.id}, {"version": user.version, **form})


@dataclass(frozen=True)
class Reach:
    """A route's URL arguments and a post it would accept."""

    values: dict
    form: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """Who may use a route, the status of a GET and of a valid POST, and its audit event."""

    access: str  # "public", "login", "admin" (either scope) or "install" (installation only)
    reach: Callable[[Setup], Reach] = lambda s: Reach({})
    get: int | None = None
    post: tuple[int, ...] = ()
    event: str | None = None

    def statuses(self, method: str) -> tuple[int, ...]:
        return (self.get,) if method == "GET" else self.post


@dataclass(frozen=True)
class RouteCase:
    """One method of one rule of the url_map."""

    endpoint: str
    rule: str
    method: str
    arguments: frozenset[str]

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule}"

    @property
    def row(self) -> Route:
        assert self.endpoint in ROUTES, (
            f"route {self.endpoint} ({self.rule}) has no row in tests/web/route_table.py: "
            "say who may use it and how to fill it in"
        )
        return ROUTES[self.endpoint]

    @property
    def scoped(self) -> bool:
        return bool(self.arguments & SCOPED_ARGUMENTS)


# ---- the states some actions need ---------------------------------------------------------


def _patient(s: Setup, **form) -> Reach:
    return Reach({"patient_id": s.patient_id}, {"version": s.patient().version, **form})


def _exam(s: Setup, exam: PlannedExam, **form) -> Reach:
    return Reach({"exam_id": exam.id}, {"version": exam.version, **form})


def _whole_control(s: Setup) -> Reach:
    """The patient's next control (its CT and CEA), booked in one step."""
    exams = [f"{e.id}:{e.version}" for e in (s.exam("ct_tap"), s.exam("cea"))]
    form = {"exam": exams, "date": s.day(7), "time": "09:30", "place": "Røntgen 2"}
    return Reach({"patient_id": s.patient_id}, form)


def _treatment(s: Setup, **form) -> Reach:
    form = {"version": s.patient().version, "patient_id": s.patient_id, **form}
    return Reach({"treatment_id": s.treatment().id}, form)


def _under_review(s: Setup) -> Reach:
    record_result(s.session, s.ctx, s.exam("cea").id, done_date=s.today, value="50")
    return _patient(s, decision="no_recurrence", note="MDT 12.3.: ingen residiv")


def _ended(s: Setup) -> Reach:
    end_surveillance(s.session, s.ctx, s.patient_id, status="moved", reason="Flyttet")
    return _patient(s, reason="Flyttet tilbake")


def _booking_to_cancel(s: Setup) -> Reach:
    exam_id = s.exam("cea").id
    record_booking(s.session, s.ctx, exam_id, date=s.today + timedelta(days=5))
    record_treatment(
        s.session, s.ctx, s.patient_id, date=s.today - timedelta(days=1), kind="resection"
    )
    s.forget()
    return _exam(s, s.session.get(PlannedExam, exam_id))


def _control(s: Setup, **form) -> Reach:
    record_primary_control(s.session, s.ctx, s.patient_id, date=s.day(-5), exams="ct_tap cea")
    control = s.patient().primary_controls[-1]
    return Reach({"control_id": control.id}, {"version": s.patient().version, **form})


def _done(s: Setup, **form) -> Reach:
    exam = s.exam("cea")
    record_result(s.session, s.ctx, exam.id, done_date=s.today, value="2,0")
    s.forget()
    return _exam(s, s.session.get(PlannedExam, exam.id), **form)


def _decision(s: Setup, **form) -> Reach:
    decision = record_decision(s.session, s.ctx, s.patient_id, decision="treatment_planned")
    return Reach({"decision_id": decision.id}, {"version": s.patient().version, **form})


def _csv(s: Setup) -> Attachment:
    text = (
        f"fødselsnummer;navn;behandlingsdato;behandling\n{s.new_national_id()};Per Post;"
        f"{s.day(-100)};reseksjon\n"
    )
    return Attachment("pasienter.csv", text.encode())


ROUTES: dict[str, Route] = {
    "static": Route("public", lambda s: Reach({"filename": "app.css"}), get=200),
    "auth.login": Route(
        "public",
        lambda s: Reach({}, {"email": s.nurse, "password": PASSWORD}),
        get=200,
        post=(302,),
        event="login",
    ),
    "auth.logout": Route("login", post=(302,), event="logout"),
    "i18n.choose_language": Route("public", lambda s: Reach({}, {"lang": "en"}), post=(302,)),
    "worklist.today": Route("login", get=200),
    "worklist.export": Route("login", get=200, event="worklist.export"),
    "admin.digests": Route("admin", get=200),
    "admin.retry_digests": Route("admin", post=(302,), event="digest.retry"),
    "worklist.search": Route("login", lambda s: Reach({}, {"q": "Pasient"}), post=(200,)),
    "patients.show": Route("login", lambda s: _patient(s), get=200),
    "patients.reveal": Route(
        "login", lambda s: _patient(s), post=(200,), event="patient.reveal_id"
    ),
    "patients.add_treatment": Route(
        "login",
        lambda s: _patient(s, date=s.day(-10), kind="resection", note="R0"),
        post=(302,),
        event="treatment.record",
    ),
    "patients.fix_treatment": Route(
        "login",
        lambda s: _treatment(s, date=s.day(-171), kind="resection"),
        post=(302,),
        event="treatment.correct",
    ),
    "patients.remove_treatment": Route(
        "login", lambda s: _treatment(s), post=(302,), event="treatment.delete"
    ),
    "patients.add_primary_control": Route(
        "login",
        lambda s: _patient(s, date=s.day(-5), exams="colonoscopy"),
        post=(302,),
        event="primary_control.record",
    ),
    "patients.book": Route(
        "login",
        lambda s: _exam(s, s.exam(), date=s.day(7), time="09:30", place="Røntgen 2"),
        post=(302,),
        event="exam.book",
    ),
    "patients.book_control": Route("login", _whole_control, post=(302,), event="exam.book"),
    "patients.result": Route(
        "login",
        lambda s: _exam(s, s.exam(), done_date=s.day(0), value="2,1"),
        post=(302,),
        event="exam.result",
    ),
    "patients.missed": Route(
        "login",
        lambda s: _exam(s, s.exam(), reason="Syk", contact_attempt="Ringt 2 ganger"),
        post=(302,),
        event="exam.missed",
    ),
    "patients.cancel": Route(
        "login",
        lambda s: _exam(s, s.exam(), cancel_note="Ønsker ikke denne kontrollen"),
        post=(302,),
        event="exam.cancel",
    ),
    "patients.booking_cancelled": Route(
        "login", _booking_to_cancel, post=(302,), event="exam.booking_cancelled"
    ),
    "patients.end": Route(
        "login",
        lambda s: _patient(s, status="moved", reason="Flyttet til Tromsø", confirm="yes"),
        post=(302,),
        event="patient.end",
    ),
    "patients.resume": Route("login", _ended, post=(302,), event="patient.resume"),
    "patients.mdt": Route("login", _under_review, post=(302,), event="patient.mdt_decision"),
    "patients.control_result": Route(
        "login",
        lambda s: _control(s, **{"result-ct_tap": "normal", "result-cea": "2,5"}),
        post=(302,),
        event="primary_control.result",
    ),
    "patients.control_correct": Route(
        "login",
        lambda s: _control(s, date=s.day(-6), reason="Feil dato"),
        post=(302,),
        event="primary_control.correct",
    ),
    "patients.control_delete": Route(
        "login",
        lambda s: _control(s, reason="Feil pasient"),
        post=(302,),
        event="primary_control.delete",
    ),
    "patients.exam_correct": Route(
        "login",
        lambda s: _done(s, done_date=s.day(0), value="2,1", reason="Skrivefeil"),
        post=(302,),
        event="exam.correct_result",
    ),
    "patients.exam_withdraw": Route(
        "login",
        lambda s: _done(s, fact="result", reason="Feil pasient"),
        post=(302,),
        event="exam.withdraw_result",
    ),
    "patients.decide": Route(
        "login",
        lambda s: _patient(s, decision="treatment_planned", note="Reseksjon planlagt"),
        post=(302,),
        event="decision.record",
    ),
    "patients.decision_withdraw": Route(
        "login",
        lambda s: _decision(s, reason="Feil pasient"),
        post=(302,),
        event="decision.withdraw",
    ),
    "patients.measure": Route(
        "login",
        lambda s: _patient(s, date=s.day(-1), value="3,3"),
        post=(302,),
        event="measurement.record",
    ),
    "patients.contact": Route(
        "login",
        lambda s: _patient(s, phone="+47 412 34 567", gp="Dr. Fastlege, Legesenteret"),
        post=(302,),
        event="patient.contact",
    ),
    "patients.note": Route(
        "login",
        lambda s: _patient(s, text="Ønsker time om morgenen"),
        post=(302,),
        event="patient.note",
    ),
    "patients.new": Route(
        "login",
        lambda s: Reach(
            {},
            {
                "national_id": s.new_national_id(),
                "name": "Ola Nordmann",
                "treatment_date": s.day(-30),
                "treatment_kind": "ablation",
            },
        ),
        get=200,
        post=(302,),
        event="patient.register",
    ),
    # The import is another person's work: access is checked here, the import there.
    "imports.upload": Route("login", get=200),
    "imports.check": Route("login", lambda s: Reach({}, {"file": _csv(s)}), post=(200, 400)),
    "imports.confirm": Route("login", lambda s: Reach({}, {"token": "x" * 32}), post=(302,)),
    "imports.discard": Route("login", lambda s: Reach({}, {"token": "x" * 32}), post=(302,)),
    "admin.users": Route("admin", get=200),
    "admin.add": Route(
        "admin",
        lambda s: Reach(
            {},
            {
                "email": "ny.sykepleier@test",
                "role": "nurse",
                "clinics": "A",
                "password": "et langt passord 123",
            },
        ),
        post=(302,),
        event="user.add",
    ),
    "admin.activate": Route(
        "admin", lambda s: s.account(active="0"), post=(302,), event="user.disable"
    ),
    "admin.account": Route("admin", lambda s: s.account(), get=200),
    "admin.edit": Route(
        "admin",
        lambda s: s.account(name="Kari Sykepleier", role="nurse", clinics="A"),
        post=(302,),
        event="user.edit",
    ),
    "admin.password": Route(
        "admin",
        lambda s: s.account(password="et nytt langt passord 456"),
        post=(302,),
        event="user.password_reset",
    ),
    "admin.clinics": Route(
        "install",
        lambda s: Reach({}, {"code": "C-1", "name": "Klinikk C"}),
        get=200,
        post=(302,),
        event="clinic.add",
    ),
    "admin.audit": Route("admin", get=200),
    "feeds.feed": Route("public", lambda s: Reach({"token": s.clinic_feed().token}), get=200),
    "feeds.index": Route("login", get=200),
    "health.healthz": Route("public", get=200),
    "feeds.create": Route(
        "login",
        lambda s: Reach({}, {"owner": str(s.clinic_id), "label": "Min"}),
        post=(201,),
        event="feed.create",
    ),
    "feeds.revoke": Route(
        "login", lambda s: Reach({"feed_id": s.clinic_feed().id}), post=(302,), event="feed.revoke"
    ),
    "api_tokens.index": Route("admin", get=200),
    "api_tokens.create": Route(
        "admin",
        lambda s: Reach({}, {"clinic": str(s.clinic_id), "label": "DIPS"}),
        post=(201,),
        event="api_token.create",
    ),
    "api_tokens.revoke": Route(
        "admin",
        lambda s: Reach({"token_id": s.api_token().id}),
        post=(302,),
        event="api_token.revoke",
    ),
    "report.page": Route("login", get=200),
    "report.download": Route("login", get=200),
    "fhir.metadata": Route("public", get=200),
    "fhir.search_patients": Route("public", lambda s: Reach({}), get=401),
    "fhir.everything": Route("public", lambda s: Reach({"resource_id": s.patient_id}), get=401),
    "fhir.export": Route("public", get=401),
    "fhir.export_patients": Route("public", get=401),
    "fhir.export_status": Route("public", lambda s: Reach({"key": "0" * 32}), get=401),
    "fhir.export_delete": Route("public", lambda s: Reach({"key": "0" * 32}), post=(401,)),
    "fhir.export_file": Route(
        "public", lambda s: Reach({"key": "0" * 32, "kind": "Patient"}), get=401
    ),
    **{
        endpoint: Route("public", lambda s: Reach({"resource_id": s.patient_id}), get=401)
        for endpoint in FHIR_READS
    },
    "_test.fail": Route("login", get=500),
}
