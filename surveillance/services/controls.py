"""Primary-tumour controls (R8 v2): planned or done with results; corrected and deleted (R12)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..db.models import Patient, PlannedExam, PrimaryControl
from ..errors import InputError, NotFound
from ..protocol import Changes, Protocol, ResultKind, load_protocol
from ..protocol.vocabulary import READINGS
from .audit import record_event
from .context import Context
from .lookups import get_patient
from .plans import replan
from .transactions import transaction
from .validate import (
    birth_date_check,
    check_horizon,
    check_not_future,
    parse_cea,
    parse_choice,
    parse_date,
    parse_text,
)


def record_primary_control(
    session: Session,
    ctx: Context,
    patient_id: int,
    *,
    date: date | str | None,
    exams: list[str] | str,
    done: bool = False,
    results: Mapping[str, object] | None = None,
    expected_version: int | None = None,
) -> Changes:
    """Register a primary-tumour control, planned or done with results; exams coordinate (R8)."""
    with transaction(session):
        patient = get_patient(session, patient_id, ctx.clinic_ids, expected_version)
        control = PrimaryControl()
        _fill(control, patient, ctx, date, exams, done, results)
        patient.primary_controls.append(control)
        patient.updated_at = utcnow()  # bumps the version: stale forms of the patient reload
        changes = replan(session, patient, ctx)
        record_event(
            session,
            ctx.actor,
            "primary_control.record",
            patient.id,
            control=control.id,
            after=_facts(control),
            **_summary(changes),
        )
    return changes


def record_control_results(
    session: Session,
    ctx: Context,
    control_id: int,
    *,
    results: Mapping[str, object],
    expected_version: int | None = None,
) -> Changes:
    """A planned primary control took place: record it done with its results (R8 v2)."""
    with transaction(session):
        control, patient = _control(session, ctx, control_id, expected_version)
        before = _facts(control)
        _fill(control, patient, ctx, control.date, control.exams, True, results)
        changes = _recompute(session, ctx, patient)
        record_event(
            session,
            ctx.actor,
            "primary_control.result",
            patient.id,
            control=control.id,
            before=before,
            after=_facts(control),
            mdt_review=patient.mdt_review,
        )
    return changes


def correct_primary_control(
    session: Session,
    ctx: Context,
    control_id: int,
    *,
    reason: str | None,
    date: date | str | None = None,
    exams: list[str] | str | None = None,
    done: bool | None = None,
    results: Mapping[str, object] | None = None,
    expected_version: int | None = None,
) -> Changes:
    """R12: change a primary control's date, exams, done or results; everything is recomputed."""
    with transaction(session):
        control, patient = _control(session, ctx, control_id, expected_version)
        why = parse_text("reason", reason, max_length=2000)
        before = _facts(control)
        _fill(
            control,
            patient,
            ctx,
            control.date if date is None else date,
            control.exams if exams is None else exams,
            control.done if done is None else done,
            control.results if results is None else results,
        )
        changes = _recompute(session, ctx, patient)
        record_event(
            session,
            ctx.actor,
            "primary_control.correct",
            patient.id,
            control=control.id,
            before=before,
            after=_facts(control),
            reason=why,
            **_summary(changes),
        )
    return changes


def delete_primary_control(
    session: Session,
    ctx: Context,
    control_id: int,
    *,
    reason: str | None,
    expected_version: int | None = None,
) -> Changes:
    """R12: remove a control entered by mistake; its exams return to their own timing."""
    with transaction(session):
        control, patient = _control(session, ctx, control_id, expected_version)
        why = parse_text("reason", reason, max_length=2000)
        before = _facts(control)
        partnered = sa.select(PlannedExam).where(PlannedExam.coordinated_with_id == control.id)
        for exam in session.scalars(partnered):
            exam.coordinated_with_id, exam.coordinated_date = None, None
        patient.primary_controls.remove(control)
        session.delete(control)
        changes = _recompute(session, ctx, patient)
        record_event(
            session,
            ctx.actor,
            "primary_control.delete",
            patient.id,
            control=control_id,
            before=before,
            reason=why,
            **_summary(changes),
        )
    return changes


def _recompute(session: Session, ctx: Context, patient: Patient) -> Changes:
    patient.updated_at = utcnow()  # bumps the version: stale forms of the patient reload
    return replan(session, patient, ctx)


def _control(
    session: Session, ctx: Context, control_id: int, expected_version: int | None
) -> tuple[PrimaryControl, Patient]:
    control = session.get(PrimaryControl, control_id)
    if control is None:
        raise NotFound(f"primary control {control_id} not found")
    patient = get_patient(session, control.patient_id, ctx.clinic_ids, expected_version)
    return control, patient


def _fill(
    control: PrimaryControl,
    patient: Patient,
    ctx: Context,
    day: date | str | None,
    exams: list[str] | str,
    done: bool,
    results: Mapping[str, object] | None,
) -> None:
    """Check and set a control's facts; nothing is set unless all of them are valid."""
    protocol = load_protocol(patient.protocol)
    codes = exams.split() if isinstance(exams, str) else list(exams)
    if not codes:
        raise InputError("exams", exams, "must name at least one exam code")
    for code in codes:
        parse_choice("exams", code, protocol.primary_exams)
    when = birth_date_check("date", parse_date("date", day), patient)
    if done:
        check_not_future("date", when, ctx.today)
    else:
        check_horizon("date", when, ctx.today)
    parsed = _results(protocol, codes, results or {}, bool(done))
    control.date, control.exams = when, " ".join(sorted(set(codes)))
    control.done, control.results = bool(done), parsed


def _results(
    protocol: Protocol, codes: list[str], results: Mapping[str, object], done: bool
) -> dict[str, str | float]:
    """Results by code: a reading or a value as the protocol declares the code."""
    given = {code: value for code, value in results.items() if value not in (None, "")}
    if given and not done:
        raise InputError("results", ", ".join(given), "need the control recorded as done")
    parsed: dict[str, str | float] = {}
    for code, value in given.items():
        spec = protocol.exams.get(code)
        if code not in codes or spec is None:
            raise InputError(f"results.{code}", value, "is a result for an exam not done here")
        if spec.result == ResultKind.READING:
            parsed[code] = parse_choice(f"results.{code}", str(value), READINGS)
        else:
            parsed[code] = parse_cea(f"results.{code}", value)  # type: ignore[arg-type]
    return parsed


def _facts(control: PrimaryControl) -> dict:
    return {
        "date": control.date.isoformat(),
        "exams": control.exams,
        "done": control.done,
        "results": dict(control.results or {}),
    }


def _summary(changes: Changes) -> dict:
    return {
        "created": len(changes.create),
        "cancelled": len(changes.cancel),
        "updated": len(changes.update),
    }
