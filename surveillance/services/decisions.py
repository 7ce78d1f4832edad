"""MDT decisions (R13) and values measured outside a control (R9); withdrawn, never deleted."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from ..clock import utcnow
from ..db.models import DECISIONS, MdtDecision, Measurement, Patient
from ..errors import InputError, NotFound
from ..protocol import ResultKind, load_protocol
from .audit import record_event
from .context import Context
from .lookups import get_patient
from .plans import replan
from .transactions import transaction
from .validate import (
    birth_date_check,
    check_not_future,
    parse_cea,
    parse_choice,
    parse_date,
    parse_text,
)


def record_decision(
    session: Session,
    ctx: Context,
    patient_id: int,
    *,
    decision: str | None,
    date: date | str | None = None,
    note: str | None = None,
    exam: str | None = None,
    due: date | str | None = None,
    expected_version: int | None = None,
) -> MdtDecision:
    """R13: the MDT decided; its flags clear, a recheck adds an extra exam, a hold begins."""
    with transaction(session):
        patient = get_patient(session, patient_id, ctx.clinic_ids, expected_version)
        kind = parse_choice("decision", decision, DECISIONS)
        when = _day("date", date or ctx.today, patient, ctx)
        row = MdtDecision(
            date=when,
            decision=kind,
            note=parse_text("note", note, max_length=2000, required=False) or "",
            author=ctx.actor.name,
        )
        if kind == "recheck":
            row.exam, row.due = _recheck(patient, exam, due, when)
        patient.decisions.append(row)
        patient.updated_at = utcnow()
        replan(session, patient, ctx)
        record_event(
            session,
            ctx.actor,
            "decision.record",
            patient.id,
            decision=kind,
            date=when.isoformat(),
            status=patient.status,
        )
    return row


def withdraw_decision(
    session: Session,
    ctx: Context,
    decision_id: int,
    *,
    reason: str | None,
    expected_version: int | None = None,
) -> MdtDecision:
    """R12: a decision recorded by mistake is withdrawn; its flags and hold are recomputed."""
    with transaction(session):
        row = session.get(MdtDecision, decision_id)
        if row is None or row.withdrawn_at is not None:
            raise NotFound(f"decision {decision_id} not found")
        before = {"date": row.date.isoformat(), "decision": row.decision}
        _withdraw(session, ctx, row, reason, expected_version, "decision", before)
    return row


def record_measurement(
    session: Session,
    ctx: Context,
    patient_id: int,
    *,
    date: date | str | None,
    value: float | str | None,
    code: str = "cea",
    expected_version: int | None = None,
) -> Measurement:
    """A CEA measured outside any control: it counts for the MDT list (R9)."""
    with transaction(session):
        patient = get_patient(session, patient_id, ctx.clinic_ids, expected_version)
        spec = load_protocol(patient.protocol).exams.get(code)
        if spec is None or spec.result != ResultKind.VALUE:
            raise InputError("code", code, "is not an exam measured as a value")
        row = Measurement(
            date=_day("date", date, patient, ctx), code=code, value=parse_cea("value", value)
        )
        patient.measurements.append(row)
        patient.updated_at = utcnow()
        replan(session, patient, ctx)
        record_event(
            session,
            ctx.actor,
            "measurement.record",
            patient.id,
            date=row.date.isoformat(),
            mdt_review=patient.mdt_review,
        )
    return row


def withdraw_measurement(
    session: Session,
    ctx: Context,
    measurement_id: int,
    *,
    reason: str | None,
    expected_version: int | None = None,
) -> Measurement:
    """R12: a measurement entered by mistake is withdrawn; flags are recomputed."""
    with transaction(session):
        row = session.get(Measurement, measurement_id)
        if row is None or row.withdrawn_at is not None:
            raise NotFound(f"measurement {measurement_id} not found")
        before = {"date": row.date.isoformat(), "value": row.value}
        _withdraw(session, ctx, row, reason, expected_version, "measurement", before)
    return row


def _withdraw(
    session: Session,
    ctx: Context,
    row: MdtDecision | Measurement,
    reason: str | None,
    expected_version: int | None,
    kind: str,
    before: dict,
) -> None:
    """Mark a fact withdrawn with its reason, recompute the patient and audit old and new."""
    patient = get_patient(session, row.patient_id, ctx.clinic_ids, expected_version)
    row.withdrawn_reason = parse_text("reason", reason, max_length=2000)
    row.withdrawn_at = utcnow()
    patient.updated_at = utcnow()
    replan(session, patient, ctx)
    record_event(
        session,
        ctx.actor,
        f"{kind}.withdraw",
        patient.id,
        **{kind: row.id},
        before=before,
        reason=row.withdrawn_reason,
    )


def _day(field: str, value: date | str | None, patient: Patient, ctx: Context) -> date:
    day = check_not_future(field, parse_date(field, value), ctx.today)
    return birth_date_check(field, day, patient)


def _recheck(patient: Patient, exam, due, decided: date) -> tuple[str, date]:
    code = parse_choice("exam", exam, load_protocol(patient.protocol).exams)
    when = parse_date("due", due)
    if when <= decided:
        raise InputError("due", when.isoformat(), "must be after the decision's date")
    return code, when
