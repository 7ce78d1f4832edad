"""Writes to MDT decisions renew their patient's clinic's list stamp too (issue 10).

The worklist page is kept as HTML per process while its clinics' stamps hold (migration
0018), and its MDT list shows each patient's latest decision note: a decision written or
withdrawn by any writer (the services also touch the patient; raw SQL or a bulk load may
not) must renew the stamp. mdt_decisions has no clinic: it is its patient's.

SQLite: a row trigger, as 0018's. PostgreSQL: a statement trigger setting the writing
transaction's id, the clinics in order, as 0018's.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

EVENTS = {"insert": ("NEW",), "update": ("NEW", "OLD"), "delete": ("OLD",)}

SQLITE_STAMP = """INSERT INTO list_stamps (clinic_id, stamp)
        SELECT clinic_id, random() FROM patients
        WHERE id = {row}.patient_id AND clinic_id IS NOT NULL
        ON CONFLICT (clinic_id) DO UPDATE SET stamp = excluded.stamp;"""

POSTGRES_FUNCTION = """CREATE FUNCTION list_stamp_decisions_{event}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO list_stamps AS s (clinic_id, stamp)
    SELECT DISTINCT p.clinic_id, txid_current()
    FROM ({rows}) AS changed JOIN patients AS p ON p.id = changed.patient_id
    WHERE p.clinic_id IS NOT NULL ORDER BY p.clinic_id
    ON CONFLICT (clinic_id) DO UPDATE SET stamp = excluded.stamp
    WHERE s.stamp <> excluded.stamp;
    RETURN NULL;
END $$"""
POSTGRES_ROWS = {
    "insert": "SELECT patient_id FROM new_rows",
    "update": "SELECT patient_id FROM new_rows UNION ALL SELECT patient_id FROM old_rows",
    "delete": "SELECT patient_id FROM old_rows",
}
POSTGRES_REFERENCING = {
    "insert": "NEW TABLE AS new_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event, rows in EVENTS.items():
        name = f"list_stamp_mdt_decisions_{event}"
        if postgres:
            op.execute(POSTGRES_FUNCTION.format(event=event, rows=POSTGRES_ROWS[event]))
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event.upper()} ON mdt_decisions "
                f"REFERENCING {POSTGRES_REFERENCING[event]} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION list_stamp_decisions_{event}()"
            )
        else:
            body = "\n    ".join(SQLITE_STAMP.format(row=row) for row in rows)
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event.upper()} ON mdt_decisions\n"
                f"BEGIN\n    {body}\nEND"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in EVENTS:
        name = f"list_stamp_mdt_decisions_{event}"
        op.execute(f"DROP TRIGGER {name}" + (" ON mdt_decisions" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION list_stamp_decisions_{event}()")
