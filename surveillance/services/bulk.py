"""Loading many patients at once (demo, benchmarks, imports): all or nothing, plans included."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import islice
from types import SimpleNamespace
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..db.models import Control, LiverTreatment, Patient, PlannedExam, PrimaryControl
from ..errors import InputError
from ..protocol import (
    EndReason,
    ExamRecord,
    History,
    Plan,
    Status,
    evaluate,
    load_protocol,
    make_plan,
)
from ..protocol import PrimaryControl as PrimaryControlValue
from ..protocol import Treatment as TreatmentValue
from ..protocol.vocabulary import PRIMARY_EXAMS, TREATMENT_KINDS
from .audit import record_event
from .context import Context
from .control_rows import control_rows, sort_keys
from .lookups import clinic_by_code
from .name_index import SUFFIXES, suffix_rows
from .new_patient import CHUNK, check_identity, check_name, check_protocol, refuse_registered
from .patients import next_local_number
from .plans import anchor_id, ending_treatment, flag_columns
from .transactions import transaction
from .validate import check_not_future, parse_choice, parse_phone, parse_text


@dataclass(frozen=True, slots=True)
class NewPatient:
    """A patient to load with their history; exams due before `done_before` count as done."""

    national_id: str
    name: str
    treatments: tuple[tuple[date, str], ...] = ()
    primary_controls: tuple[tuple[date, tuple[str, ...]], ...] = ()
    done_before: date | None = None
    protocol: str | None = None
    phone: str | None = None
    gp: str | None = None


def load_patients(
    session: Session, ctx: Context, clinic_code: str, patients: Sequence[NewPatient]
) -> int:
    """Register every patient with their treatments and plan in one transaction; return the count.

    Everything is checked and planned before the write transaction begins, so the write lock
    (SQLite has one for the whole database) is held only while the rows are inserted.
    """
    checked = [_check(p, i + 1, ctx) for i, p in enumerate(patients)]
    _refuse_duplicates_in_file(checked)
    plans = [_plan(ctx, p) for p, _ in checked]
    answers = [_answer(ctx, p, planned) for (p, _), planned in zip(checked, plans)]
    now = utcnow()
    with transaction(session):
        clinic = clinic_by_code(session, clinic_code)
        _refuse_registered(session, checked)
        first = next_local_number(session)
        patient_ids = _insert(
            session,
            Patient,
            [
                {
                    "clinic_id": clinic.id,
                    "local_number": first + i,
                    "national_id": p.national_id,
                    "name": p.name,
                    "name_key": p.name.casefold(),
                    "birth_date": birth,
                    "protocol": p.protocol,
                    "phone": p.phone,
                    "gp": p.gp,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                | answer
                for i, ((p, birth), answer) in enumerate(zip(checked, answers))
            ],
        )
        for chunk in _chunks(
            row
            for i, (pid, (p, _)) in enumerate(zip(patient_ids, checked))
            for row in suffix_rows(pid, clinic.id, first + i, p.name)
        ):
            session.execute(sa.insert(SUFFIXES), chunk)
        treatments = _insert(
            session,
            LiverTreatment,
            [
                {"patient_id": pid, "date": day, "kind": kind, "created_at": now}
                for pid, (p, _) in zip(patient_ids, checked)
                for day, kind in p.treatments
            ],
        )
        controls = _insert(
            session,
            PrimaryControl,
            [
                {"patient_id": pid, "date": day, "exams": " ".join(codes), "created_at": now}
                for pid, (p, _) in zip(patient_ids, checked)
                for day, codes in p.primary_controls
            ],
        )
        rows = _exam_rows(plans, clinic.id, patient_ids, treatments, controls, now)
        numbers = {
            pid: sort_keys(first + i, p.name, birth)
            for i, (pid, (p, birth)) in enumerate(zip(patient_ids, checked))
        }
        exams = _insert_exams(session, rows, numbers)
        record_event(
            session,
            ctx.actor,
            "patient.bulk_load",
            None,
            clinic=clinic.code,
            patients=len(checked),
            exams=exams,
        )
    return len(checked)


def _answer(ctx: Context, p: NewPatient, planned: _Planned) -> dict:
    """The engine's status and flags for the loaded facts, stored at once (no refresh needed)."""
    protocol = load_protocol(p.protocol)
    done = tuple(
        ExamRecord(e.code, e.due, done=e.due) for e in planned.plan.exams if _done(planned, e)
    )
    history = replace(_history(p), records=done)
    # Exams recorded done without a result leave the plan as it was: no extra exam, no cover.
    answer = evaluate(protocol, history, ctx.today, ctx.settings, planned.plan)
    if answer.status == Status.ENDED:  # R15: a transplant after the anchor
        reason = answer.status_reason or EndReason.TRANSPLANTED
        status = {"status": reason.value, "status_reason": ending_treatment(protocol, history.treatments)}  # fmt: skip
    else:
        status = {"status": (answer.status or Status.ACTIVE).value, "status_reason": None}
    return status | flag_columns(answer)


def _done(planned: _Planned, exam) -> bool:
    """An exam due before the file's "done until" counts as done (its result is not known)."""
    return planned.done_before is not None and exam.due < planned.done_before


def _insert_exams(session: Session, rows: Iterable[dict], local_numbers: dict[int, dict]) -> int:
    """Insert the planned exams and their controls; return the count."""
    count = 0
    waiting: list[dict] = []  # the last patient's exams: the next chunk may hold more
    for chunk in _chunks(rows):
        # The table, not the model: the ORM's bulk insert leaves out None values, so it
        # sent a statement for every run of rows alike in their Nones (thousands).
        session.execute(sa.insert(cast(sa.Table, PlannedExam.__table__)), chunk)
        count += len(chunk)
        waiting += chunk
        last = waiting[-1]["patient_id"]
        _insert_controls(session, [r for r in waiting if r["patient_id"] != last], local_numbers)
        waiting = [r for r in waiting if r["patient_id"] == last]
    _insert_controls(session, waiting, local_numbers)
    return count


def _insert_controls(session: Session, exams: list[dict], local_numbers: dict[int, dict]) -> None:
    """The controls of freshly planned exams, as the services would store them."""
    by_patient: dict[tuple[int, int], list[SimpleNamespace]] = {}
    for row in exams:
        key = (row["patient_id"], row["clinic_id"])
        by_patient.setdefault(key, []).append(
            SimpleNamespace(booked_date=None, coordinated_done=False, **row)
        )
    controls = [
        control
        for (patient, clinic), planned in by_patient.items()
        for control in control_rows(patient, clinic, local_numbers[patient], None, planned)
    ]
    for chunk in _chunks(controls):
        session.execute(sa.insert(cast(sa.Table, Control.__table__)), chunk)


def _check(p: NewPatient, row: int, ctx: Context) -> tuple[NewPatient, date]:
    try:
        number, birth = check_identity(ctx, p.national_id)
        for day, kind in p.treatments:
            parse_choice("treatment kind", kind, TREATMENT_KINDS)
            if check_not_future("treatment date", day, ctx.today) < birth:
                raise InputError("treatment date", day.isoformat(), "is before the birth date")
        for _, codes in p.primary_controls:
            for code in codes:
                parse_choice("primary control exams", code, PRIMARY_EXAMS)
        # Exams due before done_before count as done: none of them may lie ahead.
        if p.done_before and p.done_before > ctx.today + timedelta(days=1):
            raise InputError(
                "done_before",
                p.done_before.isoformat(),
                "is in the future (today is %(today)s)",
                today=ctx.today.isoformat(),
            )
        p = NewPatient(
            number,
            check_name(p.name),
            p.treatments,
            p.primary_controls,
            p.done_before,
            check_protocol(ctx, p.protocol),
            parse_phone("phone", p.phone),
            parse_text("gp", p.gp, max_length=200, required=False),
        )
    except InputError as exc:
        raise _in_row(row, exc) from None
    return p, birth


def _in_row(row: int, exc: InputError) -> InputError:
    return InputError(f"row {row}: {exc.field}", exc.value, exc.problem, **exc.params)


def _refuse_duplicates_in_file(checked: list[tuple[NewPatient, date]]) -> None:
    seen: dict[str, int] = {}
    for row, (p, _) in enumerate(checked, 1):
        if p.national_id in seen:
            raise InputError(
                f"row {row}: national_id",
                p.national_id,
                "appears twice (also row %(row)d)",
                row=seen[p.national_id],
            )
        seen[p.national_id] = row


def _refuse_registered(session: Session, checked: list[tuple[NewPatient, date]]) -> None:
    rows = {p.national_id: row for row, (p, _) in enumerate(checked, 1)}
    try:
        refuse_registered(session, list(rows))
    except InputError as exc:
        raise _in_row(rows[str(exc.value)], exc) from None


def _insert(session: Session, model, rows: list[dict]) -> list[int]:
    """Insert rows in chunks and return their ids in the order given."""
    table = model.__table__
    statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        ids.extend(session.execute(statement, rows[start : start + CHUNK]).scalars())
    return ids


def _chunks(rows: Iterable[dict]) -> Iterator[list[dict]]:
    """The rows in lists of CHUNK, so that no more than one chunk is ever in memory."""
    rows = iter(rows)
    while chunk := list(islice(rows, CHUNK)):
        yield chunk


@dataclass(frozen=True, slots=True)
class _Planned:
    """A patient's plan, made before the transaction: its refs are positions in the patient's
    treatments and controls, turned into row ids once those rows are inserted."""

    plan: Plan
    done_before: date | None
    treatments: int
    controls: int


def _plan(ctx: Context, p: NewPatient) -> _Planned:
    plan = make_plan(load_protocol(p.protocol), _history(p), ctx.settings)
    return _Planned(plan, p.done_before, len(p.treatments), len(p.primary_controls))


def _history(p: NewPatient) -> History:
    """The patient's history, each fact's ref its position among the patient's facts."""
    return History(
        treatments=tuple(
            TreatmentValue(day, kind, i) for i, (day, kind) in enumerate(p.treatments)
        ),
        primary_controls=tuple(
            PrimaryControlValue(day, frozenset(codes), i)
            for i, (day, codes) in enumerate(p.primary_controls)
        ),
    )


def _exam_rows(
    plans: list[_Planned], clinic_id: int, patient_ids, treatment_ids, control_ids, now
) -> Iterator[dict]:
    """The planned exams' rows, with the ids of the rows inserted for their facts."""
    treatments, controls = iter(treatment_ids), iter(control_ids)
    for pid, planned in zip(patient_ids, plans):
        own_treatments = [next(treatments) for _ in range(planned.treatments)]
        own_controls = [next(controls) for _ in range(planned.controls)]
        plan = planned.plan
        for e in plan.exams:
            done = _done(planned, e)
            partner = e.coordinated_with
            yield {
                "uid": str(uuid.uuid4()),
                "patient_id": pid,
                "clinic_id": clinic_id,
                # R4 v2: an earlier ablation's liver CTs stay dated from that ablation.
                "anchor_treatment_id": own_treatments[
                    cast(int, e.source.ref) if e.source else anchor_id(plan)
                ],
                "code": e.code,
                "month": e.month,
                "due": e.due,
                "due_working_day": e.due_working_day,
                "state": "done" if done else "open",
                "done_date": e.due if done else None,
                "coordinated_with_id": own_controls[cast(int, partner.ref)] if partner else None,
                "coordinated_date": partner.date if partner else None,
                "booking_to_cancel": False,
                "version": 1,
                "sequence": 0,
                "created_at": now,
                "updated_at": now,
            }
