"""Migration 0016 on a database filled by the previous version: each control carries its
patient's name key (Norwegian order) and birth date, and the lists sort by them."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from surveillance.db import make_sessionmaker
from surveillance.services import Actor, Context, worklist

from .test_migration_0010 import ROWS
from .test_migration_0014 import filled

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# Patient 1 (P-0007) is Åse, born 1970; patient 2 (P-0008) Øyvind, born 1950.
NAMES = """
UPDATE patients SET name = 'Åse Berg', name_key = 'åse berg', birth_date = '1970-03-01'
    WHERE id = 1;
UPDATE patients SET name = 'Øyvind Aas', name_key = 'øyvind aas', birth_date = '1950-03-01'
    WHERE id = 2;
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_copies_the_name_key_and_birth_date_onto_the_controls(fresh_database, backend):
    engine = filled(fresh_database, backend, ((ROWS, "0015"), (NAMES, "0016")))
    ctx = Context(Actor("nurse@test"), date(2026, 6, 1))
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                sa.text("SELECT DISTINCT patient_id, name_order, birth_date FROM controls")
            ).all()
        with make_sessionmaker(engine)() as session:
            page = worklist(session, ctx, [1], sort_key="name_order")
    finally:
        engine.dispose()
    assert sorted((p, k, str(b)) for p, k, b in stored) == [
        (1, "}se berg", "1970-03-01"),
        (2, "|yvind aas", "1950-03-01"),
    ]
    # The name key sorts as the Norwegian alphabet: Ø before Å, both after Z.
    assert sorted(k for _, k, _ in stored) == ["|yvind aas", "}se berg"]
    assert sorted({(i.name, i.birth_date) for i in page.items}) == [
        ("Åse Berg", date(1970, 3, 1)),  # the birth date shown is the control's copy
        ("Øyvind Aas", date(1950, 3, 1)),
    ]
