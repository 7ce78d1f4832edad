"""Reading a patient's record: views and ID reveals are audited; notes are added to it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..db.models import Patient, PatientNote
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
    patient = get_patient(session, patient_id, ctx.clinic_ids)
    with transaction(session):
        record_event(
            session, ctx.actor, "patient.reveal_id" if reveal_id else "patient.view", patient.id
        )
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
