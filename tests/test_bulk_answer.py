"""A bulk load and a CSV import store the engine's answer at once: no refresh needed.

Each patient is read back straight after loading, without the daily refresh or any later
change, and held to `surveillance preview` of the same facts and to the same facts
recorded one by one by a nurse.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from surveillance.db.models import Patient
from surveillance.services import record_treatment
from surveillance.services.bulk import NewPatient, load_patients
from surveillance.services.imports import import_csv
from tests.support.answers import check
from tests.support.data import synthetic_id

D = date.fromisoformat
# Today is 2026-06-01 (tests/support/data.py).
CASES = {
    # every control to month 60 (2025-03-15) done before the load: completed
    "completed": (((D("2020-03-15"), "resection"),), D("2025-03-16")),
    # the controls of 2025-07-15 and 2026-01-15 overdue: lost to follow-up (R14)
    "lost": (((D("2024-01-15"), "resection"),), None),
    # a transplant after the anchor ends surveillance (R15)
    "transplanted": (((D("2025-01-15"), "resection"), (D("2025-06-01"), "transplant")), None),
    # nothing done yet, nothing late: active
    "active": (((D("2026-01-10"), "ablation"),), None),
}
STORED = ("status", "status_reason", "mdt_review", "mdt_reason", "hold_until", "lost_to_follow_up")


def stored(session, national_id: str) -> Patient:
    session.rollback()
    session.expire_all()
    return session.scalars(sa.select(Patient).where(Patient.national_id == national_id)).one()


def as_a_nurse_records_it(session, ctx, create_patient, treatments) -> Patient:
    """The same treatments recorded one by one through the services."""
    patient = create_patient()
    for day, kind in treatments:
        record_treatment(session, ctx, patient.id, date=day.isoformat(), kind=kind)
    return stored(session, patient.national_id)


@pytest.mark.parametrize("case", CASES)
def test_a_bulk_loaded_patient_has_the_engines_status_and_flags_at_once(
    session, ctx, clinic, create_patient, case
):
    treatments, done_before = CASES[case]
    loaded = NewPatient(synthetic_id(), "Per Hansen", treatments, done_before=done_before)
    load_patients(session, ctx, clinic.code, [loaded])
    patient = stored(session, loaded.national_id)
    check(session, ctx, patient)
    if done_before is None:  # the nurse cannot mark earlier controls done in one step
        nurse = as_a_nurse_records_it(session, ctx, create_patient, treatments)
        assert [getattr(patient, c) for c in STORED] == [getattr(nurse, c) for c in STORED]
    assert patient.status == {"lost": "active"}.get(case, case)
    assert patient.lost_to_follow_up == (case == "lost")


def test_an_imported_file_has_the_engines_statuses_and_flags_at_once(session, ctx, clinic):
    header = "fødselsnummer;navn;behandlingsdato;behandling;kontroller_utført_til"
    rows = {
        "completed": "15.03.2020;reseksjon;15.03.2025",
        "lost": "2024-01-15;resection;",
        "active": "2026-01-10;ablasjon;",
    }
    ids = {case: synthetic_id() for case in rows}
    lines = [header] + [f"{ids[case]};Kari Nordmann;{cells}" for case, cells in rows.items()]
    import_csv(session, ctx, clinic.code, "\n".join(lines).encode())
    for case, national_id in ids.items():
        patient = stored(session, national_id)
        check(session, ctx, patient)
        assert (patient.status, patient.lost_to_follow_up) == (
            {"lost": "active"}.get(case, case),
            case == "lost",
        )
