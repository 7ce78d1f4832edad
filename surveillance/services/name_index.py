"""The name search's index (issue 10): one row per suffix of each patient's name key, written
beside the name in the same transaction (register, bulk load, correct_name)."""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import Patient, PatientNameSuffix, name_suffixes

SUFFIXES = cast(sa.Table, PatientNameSuffix.__table__)


def suffix_rows(patient_id: int, clinic_id: int, local_number: int, name: str) -> list[dict]:
    """The index rows of one patient's name (its key's suffixes, each with the sort keys)."""
    return [
        {
            "clinic_id": clinic_id,
            "suffix": suffix,
            "name": name,
            "local_number": local_number,
            "patient_id": patient_id,
        }
        for suffix in name_suffixes(name.casefold())
    ]


def index_name(session: Session, patient: Patient) -> None:
    """Make the patient's index rows those of their current name (after a flush)."""
    session.execute(sa.delete(SUFFIXES).where(SUFFIXES.c.patient_id == patient.id))
    rows = suffix_rows(patient.id, patient.clinic_id, patient.local_number, patient.name)
    if rows:
        session.execute(sa.insert(SUFFIXES), rows)
