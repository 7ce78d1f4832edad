"""Sortable control lists (issue 12): the patient's name key and birth date on each control,
and an index per list index and sort key, so that a page sorted by reference, name, birth
date or booked date is read in an index's order (no sort of the whole list).

The new columns are filled from the patients; the name key puts Æ, Ø, Å after Z as in the
Norwegian alphabet (the same function as the services'), compared by bytes on PostgreSQL.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

KEYS = ("local_number", "name_order", "birth_date", "booked_date")
INDEXES = {  # as surveillance.db.models.CONTROL_SORT_INDEXES
    "due": (None, ("hold_until",)),
    "to_book": (sa.text("stage = 'open'"), ("hold_until", "stage")),
    "waiting": (
        sa.text("stage IN ('booked', 'coordinated')"),
        ("stage", "results_on", "hold_until"),
    ),
    "held": (sa.text("hold_until IS NOT NULL"), ("hold_until",)),
}
NAME_ORDER = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")
NORWEGIAN = str.maketrans("æøå", "{|}")


def upgrade():
    op.add_column(
        "controls", sa.Column("name_order", NAME_ORDER, server_default="", nullable=False)
    )
    op.add_column("controls", sa.Column("birth_date", sa.Date(), nullable=True))
    bind = op.get_bind()
    patients = sa.table(
        "patients", sa.column("id"), sa.column("name"), sa.column("birth_date", sa.Date)
    )
    controls = sa.table(
        "controls",
        sa.column("patient_id"),
        sa.column("name_order"),
        sa.column("birth_date", sa.Date),
    )
    update = (
        sa.update(controls)
        .where(controls.c.patient_id == sa.bindparam("pid"))
        .values(name_order=sa.bindparam("key"), birth_date=sa.bindparam("born"))
    )
    rows = bind.execute(
        sa.select(patients.c.id, patients.c.name, patients.c.birth_date).where(
            patients.c.id.in_(sa.select(controls.c.patient_id))
        )
    ).all()
    if rows:
        bind.execute(
            update,
            [
                {"pid": pid, "key": name.casefold().translate(NORWEGIAN), "born": born}
                for pid, name, born in rows
            ],
        )
    for flavour, (where, columns) in INDEXES.items():
        for key in KEYS:
            op.create_index(
                f"ix_controls_{flavour}_by_{key}",
                "controls",
                ["clinic_id", key, "due", "id", *(c for c in columns if c != key)],
                sqlite_where=where,
                postgresql_where=where,
            )


def downgrade():
    for flavour in INDEXES:
        for key in KEYS:
            op.drop_index(f"ix_controls_{flavour}_by_{key}", table_name="controls")
    with op.batch_alter_table("controls") as batch:
        batch.drop_column("birth_date")
        batch.drop_column("name_order")
