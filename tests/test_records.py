"""Reading a patient's record for its page: every list whole and in its relationship's order."""

from __future__ import annotations

from surveillance.db import make_sessionmaker
from surveillance.db.models import Patient
from surveillance.services import record_decision, record_measurement, record_treatment
from surveillance.services.records import RECORD_LISTS, add_note, view_patient


def test_the_record_holds_every_list_in_the_order_its_relationship_gives(
    engine, session, ctx, treated_patient
):
    # Each list written out of its order (a later day first), so that an order lost on the
    # way shows: the page's plan, decisions and CEA values are read in date order.
    patient = treated_patient("2025-01-15")
    record_treatment(session, ctx, patient.id, date="2024-05-02", kind="ablation")
    for day in ("2025-09-01", "2025-03-01"):
        record_decision(session, ctx, patient.id, decision="no_recurrence", date=day)
    for day, value in (("2025-08-01", "4.0"), ("2025-02-01", "3.1")):
        record_measurement(session, ctx, patient.id, date=day, value=value)
    for text in ("Ringer helst om morgenen", "Ny fastlege fra mars"):
        add_note(session, ctx, patient.id, text=text)

    sessions = make_sessionmaker(engine)
    with sessions() as page:
        shown = view_patient(page, ctx, patient.id)
        read = {name: [row.id for row in getattr(shown, name)] for name, _ in RECORD_LISTS}
    with sessions() as lazy:
        loaded = lazy.get(Patient, patient.id)
        assert loaded is not None
        expected = {name: [row.id for row in getattr(loaded, name)] for name, _ in RECORD_LISTS}
        treatments = [t.date.isoformat() for t in loaded.treatments]
        decisions = [d.date.isoformat() for d in loaded.decisions]

    assert read == expected
    assert treatments == ["2024-05-02", "2025-01-15"]
    assert decisions == ["2025-03-01", "2025-09-01"]
    assert all(len(read[name]) >= 2 for name in read if name != "primary_controls")
