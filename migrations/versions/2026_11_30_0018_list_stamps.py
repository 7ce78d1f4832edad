"""A stamp per clinic that every write to its list data renews (issue 10).

The worklist's counts cost a range of an index each, as long as the list (14 ms at 100,000
patients on SQLite): the dashboard keeps them per clinic while the clinic's stamp holds.
Triggers renew the stamp on every insert, update and delete of controls, patients and
planned exams, whoever writes (the services, a bulk load, raw SQL), in the writing
transaction: a reader that reads the stamp before the counts never keeps stale counts
under a current stamp.

SQLite: a row trigger sets a random 64-bit stamp. PostgreSQL: a statement trigger sets
the writing transaction's id, once per transaction (a bulk load writes the row once, not
once per exam), the clinics in order (no deadlock between two statements).

A later migration that rebuilds one of these tables in Alembic's batch mode on SQLite (a
copy, then a rename) loses its triggers: it must create them again (tests/test_list_stamps.py
fails without them).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TABLES = ("controls", "patients", "planned_exams")  # models.LIST_TABLES
EVENTS = {"insert": ("NEW",), "update": ("NEW", "OLD"), "delete": ("OLD",)}

SQLITE_STAMP = """INSERT INTO list_stamps (clinic_id, stamp)
        SELECT {row}.clinic_id, random() WHERE {row}.clinic_id IS NOT NULL
        ON CONFLICT (clinic_id) DO UPDATE SET stamp = excluded.stamp;"""

POSTGRES_FUNCTION = """CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO list_stamps AS s (clinic_id, stamp)
    SELECT DISTINCT clinic_id, txid_current() FROM ({rows}) AS changed
    WHERE clinic_id IS NOT NULL ORDER BY clinic_id
    ON CONFLICT (clinic_id) DO UPDATE SET stamp = excluded.stamp
    WHERE s.stamp <> excluded.stamp;
    RETURN NULL;
END $$"""
POSTGRES_ROWS = {
    "insert": "SELECT clinic_id FROM new_rows",
    "update": "SELECT clinic_id FROM new_rows UNION ALL SELECT clinic_id FROM old_rows",
    "delete": "SELECT clinic_id FROM old_rows",
}
POSTGRES_REFERENCING = {
    "insert": "NEW TABLE AS new_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
}


def upgrade() -> None:
    op.create_table(
        "list_stamps",
        sa.Column("clinic_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("clinic_id", name=op.f("pk_list_stamps")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in EVENTS:
        if postgres:
            op.execute(
                POSTGRES_FUNCTION.format(name=f"list_stamp_{event}", rows=POSTGRES_ROWS[event])
            )
        for table in TABLES:
            name = f"list_stamp_{table}_{event}"
            if postgres:
                op.execute(
                    f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} "
                    f"REFERENCING {POSTGRES_REFERENCING[event]} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION list_stamp_{event}()"
                )
            else:
                body = "\n    ".join(SQLITE_STAMP.format(row=row) for row in EVENTS[event])
                op.execute(
                    f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table}\n"
                    f"BEGIN\n    {body}\nEND"
                )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in EVENTS:
        for table in TABLES:
            op.execute(
                f"DROP TRIGGER list_stamp_{table}_{event}" + (f" ON {table}" if postgres else "")
            )
        if postgres:
            op.execute(f"DROP FUNCTION list_stamp_{event}()")
    op.drop_table("list_stamps")
