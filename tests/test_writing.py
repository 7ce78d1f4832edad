"""A write after a read: refused at commit when the row changed meanwhile, and the session
left clean and usable (on PostgreSQL the write goes on in the read's transaction)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from surveillance.config import DatabaseConfig
from surveillance.db import make_sessionmaker
from surveillance.db.engine import UNIT_OF_WORK, make_bounded_engine
from surveillance.db.models import Patient
from surveillance.errors import Conflict
from surveillance.services.transactions import transaction


def test_a_write_after_a_read_is_refused_at_commit_when_stale_and_leaves_the_session_clean(
    engine, session, treated_patient
):
    patient_id = treated_patient().id
    with make_sessionmaker(engine)() as nurse, make_sessionmaker(engine)() as other:
        shown = nurse.get(Patient, patient_id)  # the page before the form: an autobegun read
        assert nurse.in_transaction()
        with transaction(other):
            other.get(Patient, patient_id).phone = "40000000"
        with pytest.raises(Conflict, match="changed by someone else"), transaction(nurse):
            shown.phone = "41111111"  # flushed at commit: UPDATE ... WHERE version = old
        assert not nurse.in_transaction()
        assert UNIT_OF_WORK not in nurse.info
        assert nurse.get(Patient, patient_id).phone == "40000000"  # expired, read afresh
        with transaction(nurse):  # the session is usable again
            nurse.get(Patient, patient_id).phone = "42222222"
    session.expire_all()
    assert session.get(Patient, patient_id).phone == "42222222"


@pytest.mark.postgres
def test_the_dashboard_reads_committed_data_whatever_the_servers_default(fresh_database):
    url = fresh_database("postgresql")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        name = conn.exec_driver_sql("SELECT current_database()").scalar()
        conn.exec_driver_sql(
            f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'repeatable read'"
        )
    admin.dispose()
    engine = make_bounded_engine(DatabaseConfig(url=url))
    try:
        with engine.connect() as conn:
            level = conn.exec_driver_sql("SHOW transaction_isolation").scalar()
    finally:
        engine.dispose()
    assert level == "read committed"
