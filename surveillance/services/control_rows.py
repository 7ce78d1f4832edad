"""The stored controls: the engine's answer on the exams, grouped as the lists show them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import Control, Patient, name_order

# A coordinated exam whose partner is done has its results missing as soon as it is listed.
RESULTS_AT_ONCE = date(1, 1, 1)
OPEN_STATES = frozenset({"open", "booked", "missed"})


def stage(exam: Any) -> str:
    """R10's time-free part: booked, coordinated with a primary control, or to book."""
    if exam.state == "booked":
        return "booked"
    if exam.state == "open" and exam.coordinated_with_id is not None:
        return "coordinated"
    return "open"


def results_on(exam: Any) -> date | None:
    """The day a booked or coordinated exam's results are missing from (R10)."""
    if exam.state == "booked":
        return exam.booked_date + timedelta(days=1) if exam.booked_date else None
    if exam.state == "open" and exam.coordinated_with_id is not None:
        if exam.coordinated_done or exam.coordinated_date is None:
            return RESULTS_AT_ONCE
        return exam.coordinated_date + timedelta(days=1)
    return None


def sort_keys(local_number: int, name: str, birth_date: date) -> dict:
    """The patient's columns a control row carries for the lists' sorts (issue 12)."""
    return {"local_number": local_number, "name_order": name_order(name), "birth_date": birth_date}


def control_rows(
    patient_id: int, clinic_id: int, keys: dict, hold_until: date | None, exams: Iterable
) -> list[dict]:
    """One row per (due, stage, results date) of a patient's open exams.

    Exams of one control booked on different days are listed apart, as the engine lists
    each exam (R10): the first's results are missing while the second is still booked.
    """
    rows: dict[tuple[date, str, date | None], dict] = {}
    for exam in exams:
        if exam.state not in OPEN_STATES:
            continue
        kind, missing_from = stage(exam), results_on(exam)
        row = rows.setdefault(
            (exam.due, kind, missing_from),
            {
                "clinic_id": clinic_id,
                "patient_id": patient_id,
                **keys,
                "due": exam.due,
                "due_working_day": exam.due_working_day,
                "stage": kind,
                "codes": [],
                "booked_date": None,
                "results_on": missing_from,
                "hold_until": hold_until if kind != "booked" else None,
                "missed": False,
            },
        )
        row["codes"].append(exam.code)
        row["due_working_day"] = min(row["due_working_day"], exam.due_working_day)
        row["booked_date"] = _earliest(row["booked_date"], exam.booked_date)
        row["missed"] = row["missed"] or exam.state == "missed"
    for row in rows.values():
        row["codes"] = " ".join(sorted(row["codes"]))
    return [rows[key] for key in sorted(rows, key=lambda k: (k[0], k[1], k[2] or date.min))]


def _earliest(a: date | None, b: date | None) -> date | None:
    return b if a is None else a if b is None else min(a, b)


def store_controls(session: Session, patient: Patient) -> None:
    """Make the patient's stored controls equal to their exams' stored answer."""
    keys = sort_keys(patient.local_number, patient.name, patient.birth_date)
    rows = control_rows(patient.id, patient.clinic_id, keys, patient.hold_until, patient.exams)
    # No Control is ever loaded as an object, so the session has none to bring up to date:
    # left to its default, the delete scanned every object the session held (the demo's
    # batches hold thousands), a cost of every verb.
    session.execute(
        sa.delete(Control)
        .where(Control.patient_id == patient.id)
        .execution_options(synchronize_session=False)
    )
    if rows:
        session.execute(sa.insert(Control), rows)


def controls_due_between(clinic_ids: Sequence[int], first: date, last: date) -> sa.Select:
    """The (patient, due) of the clinics' open controls due from `first` to `last`: one range
    of the index the overdue list reads (ix_controls_due), per clinic. The feeds read them."""
    clinic = (
        Control.clinic_id == clinic_ids[0]
        if len(clinic_ids) == 1
        else Control.clinic_id.in_(clinic_ids)
    )
    return sa.select(Control.patient_id, Control.due).where(
        clinic, Control.due >= first, Control.due <= last
    )


def rename_controls(session: Session, patient: Patient) -> None:
    """Keep the patient's stored controls' name key current after a corrected name."""
    session.execute(
        sa.update(Control)
        .where(Control.patient_id == patient.id)
        .values(name_order=name_order(patient.name))
    )
