"""Demo data: synthetic patients in every state of the worklist, from a fixed seed."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from .db.choices import Role
from .db.models import Clinic, Patient, PlannedExam
from .identity import make_synthetic_id
from .protocol import add_months, load_protocol
from .services import (
    Context,
    end_surveillance,
    record_booking,
    record_decision,
    record_missed,
    record_primary_control,
    record_result,
    record_treatment,
)
from .services.accounts import Admin, add_user
from .services.bulk import NewPatient, load_patients
from .services.plans import replan
from .services.transactions import transaction

log = logging.getLogger(__name__)
# SQLite's page cache during the load, in KiB (allocated only as used).
CACHE_KIB = 256 * 1024
# Done exams given a result per statement.
RESULTS_CHUNK = 5000
# Patients given their history between two clears of the session (see _history).
BATCH = 200
# What the engine reads of a patient (services.plans.patient_history), read for a batch at once.
PATIENT_FACTS = (
    Patient.treatments,
    Patient.primary_controls,
    Patient.exams,
    Patient.measurements,
    Patient.decisions,
)
DEMO_CLINIC = ("DEMO", "Demoklinikken, leverkirurgisk poliklinikk")
# Gets the daily digest (.eml files under instance/outbox/ unless [mail] says otherwise).
DEMO_RECIPIENT = "sykepleier@demo.invalid"
# The demo's accounts (synthetic data only): a nurse of DEMO and the installation administrator.
DEMO_PASSWORD = "demo-passord-2025"
DEMO_ACCOUNTS = (
    ("sykepleier@demo.invalid", Role.NURSE),
    ("admin@demo.invalid", Role.INSTALL_ADMIN),
)
FIRST_NAMES = (
    "Kari",
    "Ola",
    "Ingrid",
    "Per",
    "Astrid",
    "Knut",
    "Solveig",
    "Bjørn",
    "Liv",
    "Arne",
    "Randi",
    "Terje",
    "Åse",
    "Øystein",
    "Gerd",
    "Håkon",
    "Sigrid",
    "Jørgen",
)
LAST_NAMES = (
    "Nordmann",
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Berg",
    "Haugen",
    "Dahl",
    "Bakken",
    "Strand",
    "Lie",
    "Sæther",
    "Løvås",
    "Aasen",
    "Kristiansen",
    "Moe",
)
# What each demo patient's current control is doing: (scenario, days from today to its due date)
SCENARIOS = (
    ("to_book", (5, 40)),
    ("overdue", (-150, -35)),
    ("booked", (8, 40)),
    ("results_missing", (-25, -3)),
    ("done_normal", (-25, -5)),
    ("mdt_review", (-20, -5)),
    ("booking_to_cancel", (15, 40)),
    ("not_candidate", (10, 60)),
    ("coordinated", (10, 40)),
    ("missed", (-60, -20)),
    ("upcoming", (60, 170)),
    ("completed", (-200, -40)),
    ("on_hold", (5, 40)),
    ("lost_to_follow_up", (-120, -40)),
)

# The scenarios whose _act calls a verb: always, or when the patient has a control to act on.
ACT_ALWAYS = frozenset({"booking_to_cancel", "not_candidate", "on_hold"})
ACT_ON_CONTROL = frozenset(
    {"booked", "results_missing", "missed", "done_normal", "mdt_review", "coordinated"}
)


def load_demo(session: Session, ctx: Context, patients: int = 120, seed: int = 2025) -> str | None:
    """Create the demo clinic and its patients, all or nothing; None if already loaded."""
    # The verbs below join the transaction: a failure leaves no clinic behind.
    with transaction(session), _large_cache(session):
        return _load(session, ctx, patients, seed)


@contextmanager
def _large_cache(session: Session) -> Iterator[None]:
    """On SQLite, a page cache of up to CACHE_KIB for the load's one transaction.

    Its changes cannot be checkpointed before it commits: with SQLite's default 2 MB cache,
    pages changed again and again (the controls' indexes) were spilled to the WAL each time.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(before or 0)}")


def _load(session: Session, ctx: Context, patients: int, seed: int) -> str | None:
    code, name = DEMO_CLINIC
    if session.scalar(sa.select(Clinic.id).where(Clinic.code == code)):
        return None
    session.add(Clinic(code=code, name=name, digest_recipients=DEMO_RECIPIENT))
    session.flush()
    for email, role in DEMO_ACCOUNTS:
        add_user(
            session,
            Admin(ctx.actor),
            email=email,
            password=DEMO_PASSWORD,
            role=role,
            clinic_codes=[code],
        )
    rng = random.Random(seed)
    taken: set[str] = set()
    plans = [
        _patient(rng, ctx.today, SCENARIOS[i % len(SCENARIOS)], taken) for i in range(patients)
    ]
    load_patients(session, ctx, code, [p for p, _ in plans])
    _give_results(session, rng)
    numbers = dict(session.execute(sa.select(Patient.national_id, Patient.id)).all())
    for start in range(0, len(plans), BATCH):
        batch = [
            (numbers[new.national_id], scenario) for new, scenario in plans[start : start + BATCH]
        ]
        _history(session, ctx, rng, batch)
        log.debug("%d of %d demo patients given their history", start + len(batch), len(plans))
    return code


def _history(
    session: Session, ctx: Context, rng: random.Random, batch: list[tuple[int, str]]
) -> None:
    """Give a batch of patients their scenario's history and store the engine's answer.

    The patients' rows are read in a few statements up front, and the session forgets them
    afterwards (still one transaction): every flush and every bulk delete scans what the
    session holds, so keeping them all made the demo's time grow with the square of its size.
    """
    held = session.scalars(  # the verbs find them here; held, as the session keeps weak refs
        sa.select(Patient)
        .where(Patient.id.in_([patient_id for patient_id, _ in batch]))
        .options(*(selectinload(r) for r in PATIENT_FACTS))
    ).all()
    for patient_id, scenario in batch:
        if not _act(session, ctx, rng, patient_id, scenario):
            # The bulk loader's answer did not see the results given since: the engine's now.
            patient = session.get(Patient, patient_id)
            assert patient is not None  # loaded just now
            replan(session, patient, ctx)
    session.flush()
    session.expunge_all()
    del held


def _give_results(session: Session, rng: random.Random) -> None:
    """Results for the controls loaded as already done, so the CEA charts have a history.

    In chunks of RESULTS_CHUNK exams, in id order: at 100,000 patients there are a million.
    """
    after = 0
    while done := session.execute(
        sa.select(PlannedExam.id, PlannedExam.code)
        .where(
            PlannedExam.id > after,
            PlannedExam.state == "done",
            PlannedExam.result.is_(None),
            PlannedExam.result_value.is_(None),
        )
        .order_by(PlannedExam.id)
        .limit(RESULTS_CHUNK)
    ).all():
        rows = [
            {
                "exam_id": exam_id,
                "result": None if code == "cea" else "normal",
                "value": round(rng.uniform(0.8, 4.5), 1) if code == "cea" else None,
            }
            for exam_id, code in done
        ]
        session.connection().execute(
            sa.update(cast(sa.Table, PlannedExam.__table__))
            .where(PlannedExam.id == sa.bindparam("exam_id"))
            .values(result=sa.bindparam("result"), result_value=sa.bindparam("value")),
            rows,
        )
        after = done[-1][0]


def _patient(rng: random.Random, today: date, scenario, taken: set[str]) -> tuple[NewPatient, str]:
    kind_of_day, (low, high) = scenario
    kind = rng.choice(("resection",) * 6 + ("ablation",) * 3 + ("resection_with_ablation",))
    months = [m for m, _ in load_protocol().schedules[kind]]
    month = (
        60
        if kind_of_day == "completed"
        else rng.choice([m for m in months if m in (6, 12, 18, 24, 30, 36, 48)])
    )
    due = today + timedelta(days=rng.randint(low, high))
    anchor = add_months(due, -month)
    # Earlier controls were done; never one that lies ahead. A patient lost to follow-up
    # missed the control before this one too.
    done_before = today if kind_of_day == "completed" else min(due, today)
    if kind_of_day == "lost_to_follow_up":
        done_before = due - timedelta(days=200)
    return NewPatient(
        _national_id(rng, taken),
        f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        treatments=((anchor, kind),),
        done_before=done_before,
    ), kind_of_day


def _national_id(rng: random.Random, taken: set[str]) -> str:
    """A synthetic number not given before (about 3.6 million fit the birth years used)."""
    while True:
        birth = date(rng.randint(1940, 1975), rng.randint(1, 12), rng.randint(1, 28))
        number = make_synthetic_id(birth, rng.randint(0, 499))
        if number and number not in taken:
            taken.add(number)
            return number


def _act(
    session: Session, ctx: Context, rng: random.Random, patient_id: int, scenario: str
) -> bool:
    """Put the patient's current control (its first open exams) into the scenario's state;
    whether a verb was called (each one stores the engine's answer)."""
    patient = session.get(Patient, patient_id)
    assert patient is not None  # loaded just now
    current = sorted((e for e in patient.exams if e.state == "open"), key=lambda e: (e.due, e.code))
    control = [e for e in current if e.due == current[0].due]
    for exam in control:
        due = exam.due_working_day
        if scenario in ("booked", "booking_to_cancel", "results_missing", "missed"):
            record_booking(
                session, ctx, exam.id, date=due, time="09:30", place="Radiologisk avdeling"
            )
        if scenario == "missed":
            record_missed(
                session, ctx, exam.id, reason="Møtte ikke", contact_attempt="Ringt to ganger"
            )
        if scenario in ("done_normal", "mdt_review"):
            high = scenario == "mdt_review"
            record_result(
                session,
                ctx,
                exam.id,
                done_date=min(due, ctx.today),
                result="suspicious" if high and exam.code != "cea" else "normal",
                value=round(rng.uniform(6, 25) if high else rng.uniform(0.5, 4.5), 1),
            )
    if scenario == "booking_to_cancel":
        record_treatment(
            session,
            ctx,
            patient_id,
            date=ctx.today - timedelta(days=10),
            kind="resection",
            note="Re-reseksjon",
        )
    elif scenario == "not_candidate":
        end_surveillance(
            session,
            ctx,
            patient_id,
            status="not_candidate",
            reason="Ikke aktuell for videre kreftrettet behandling",
        )
    elif scenario == "on_hold":
        record_decision(
            session, ctx, patient_id, decision="treatment_planned", note="Re-reseksjon planlagt"
        )
    elif scenario == "coordinated" and control:
        record_primary_control(
            session,
            ctx,
            patient_id,
            date=control[0].due - timedelta(days=7),
            exams=["ct_tap", "cea", "colonoscopy"],
        )
    return scenario in ACT_ALWAYS or (scenario in ACT_ON_CONTROL and bool(control))
