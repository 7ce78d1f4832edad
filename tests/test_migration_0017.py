"""Migration 0017 on a database filled by the previous version: every patient's name key
gets its suffixes (the SQL of the migration cuts them as the services' Python does), and
the search finds the patients by a part of the name through them."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from surveillance.db import make_sessionmaker
from surveillance.db.models import name_suffixes
from surveillance.services import Actor, Context
from surveillance.services.review import search_patients

from .test_migration_0010 import ROWS
from .test_migration_0014 import filled
from .test_migration_0016 import NAMES

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# Names as 0016 left them (name_key written by the services of then): Åse and Øyvind, then
# a third patient with a name key of letters casefold() changes, and one with none.
MORE = """
INSERT INTO patients (id, clinic_id, local_number, national_id, name, name_key, birth_date,
                      protocol, status, mdt_review, hold_until, lost_to_follow_up, version,
                      created_at, updated_at)
VALUES (3, 1, 9, '01016012347', 'Grete STRAUß-Øie', 'grete strauss-øie', '1960-01-01',
        'no-hdir-2025', 'active', false, NULL, false, 1, '2026-01-01 00:00:00',
        '2026-01-01 00:00:00'),
       (4, 1, 10, '01016012348', '', '', '1960-01-01',
        'no-hdir-2025', 'active', false, NULL, false, 1, '2026-01-01 00:00:00',
        '2026-01-01 00:00:00')
"""
TODAY = date(2026, 6, 1)
PATIENTS = {1: ("Åse Berg", 7), 2: ("Øyvind Aas", 8), 3: ("Grete STRAUß-Øie", 9), 4: ("", 10)}
KEYS = {1: "åse berg", 2: "øyvind aas", 3: "grete strauss-øie", 4: ""}


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_indexes_the_suffixes_of_every_name(fresh_database, backend):
    engine = filled(fresh_database, backend, ((ROWS, "0015"), (NAMES + MORE, "0017")))
    ctx = Context(Actor("nurse@test"), TODAY)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                sa.text(
                    "SELECT clinic_id, patient_id, suffix, name, local_number"
                    " FROM patient_name_suffixes"
                )
            ).all()
        with make_sessionmaker(engine)() as session:
            found = {
                text: [r.reference for r in search_patients(session, ctx, [1], text)]
                for text in ("ss-ø", "AAS", "e", "strauß", "berg")
            }
    finally:
        engine.dispose()
    assert sorted(stored) == sorted(
        (1, pid, suffix, *PATIENTS[pid])
        for pid, key in KEYS.items()
        for suffix in name_suffixes(key)
    )
    assert found == {
        "ss-ø": ["P-0009"],
        "AAS": ["P-0008"],
        "e": ["P-0009", "P-0007"],  # by name: Grete, then Åse (code point order)
        "strauß": ["P-0009"],
        "berg": ["P-0007"],
    }
