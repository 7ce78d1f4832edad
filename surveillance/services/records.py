"""Reading a patient's record: views and ID reveals are audited; notes are added to it."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..db.models import (
    LiverTreatment,
    MdtDecision,
    Measurement,
    Patient,
    PatientNote,
    PlannedExam,
    PrimaryControl,
)
from ..errors import NotFound
from .audit import record_event
from .context import Context
from .lookups import get_patient
from .transactions import transaction
from .validate import parse_text


def view_patient(
    session: Session, ctx: Context, patient_id: int, *, reveal_id: bool = False
) -> Patient:
    """Load a patient for display and record who saw it (and whether the ID was shown)."""
    # Read before the audit's write, not inside it: SQLite's write lock is then held for
    # the insert alone (issue 10).
    patient = _read_record(session, patient_id, ctx.clinic_ids)
    with transaction(session):
        record_event(
            session, ctx.actor, "patient.reveal_id" if reveal_id else "patient.view", patient.id
        )
    return patient


# The record's lists, by relationship. Most patients have exams and a treatment and none of
# the rest; each list read is a query (on PostgreSQL a round trip), so the patient's row
# says which of them hold anything and only those are read (issue 10).
RECORD_LISTS = (
    ("treatments", LiverTreatment),
    ("primary_controls", PrimaryControl),
    ("exams", PlannedExam),
    ("notes", PatientNote),
    ("decisions", MdtDecision),
    ("measurements", Measurement),
)


@cache
def _statements() -> tuple[sa.Select, dict[str, sa.Select]]:
    """The patient's row with a flag per list, and each list's read in its relationship's order.

    Made once, not per page: SQLAlchemy works a statement's cache key out anew for each new
    statement object, which cost as much as the read itself, and a lazy load builds its
    statement each time (issue 10). Made on first use, when the relationships' orders are
    resolved.
    """
    sa.orm.configure_mappers()  # resolves the relationships' order_by
    flags = (sa.exists().where(model.patient_id == Patient.id) for _, model in RECORD_LISTS)
    record = sa.select(Patient, *flags).where(Patient.id == sa.bindparam("patient_id"))
    lists = {
        name: sa.select(model)
        .where(model.patient_id == sa.bindparam("patient_id"))
        .order_by(*(getattr(Patient, name).property.order_by or ()))
        for name, model in RECORD_LISTS
    }
    return record, lists


def _read_record(session: Session, patient_id: int, clinic_ids: AbstractSet[int] | None) -> Patient:
    """The patient with every list of the record loaded, in one read: a list found empty by
    the patient's own query is set empty, not read."""
    record, lists = _statements()
    key = {"patient_id": patient_id}
    row = session.execute(record, key).first()
    if row is None or (clinic_ids is not None and row[0].clinic_id not in clinic_ids):
        raise NotFound(f"patient {patient_id} not found")
    patient: Patient = row[0]
    present = row[1:]
    for (name, _), there in zip(RECORD_LISTS, present, strict=True):
        if name in patient.__dict__:
            continue  # already loaded in this session
        items = session.scalars(lists[name], key).all() if there else []
        set_committed_value(patient, name, items)
    return patient


def add_note(session: Session, ctx: Context, patient_id: int, *, text: str | None) -> PatientNote:
    """Add a free-text note to a patient's record."""
    with transaction(session):
        patient = get_patient(session, patient_id, ctx.clinic_ids)
        note = PatientNote(
            patient_id=patient.id,
            author=ctx.actor.name,
            text=parse_text("text", text, max_length=5000),
        )
        session.add(note)
        session.flush()
        record_event(session, ctx.actor, "patient.note", patient.id, note=note.id)
    return note
