"""The patient's telephone and GP (fastlege), the day of the newest MDT flag, missed controls.

The flag's day is derived from the reasons already stored ("cea_high cea 2026-06-25 7.2"):
the latest date among them, so the MDT list shows the newest flag first from the start.
A control holding a missed exam is marked so, from the stored exams, for the worklist.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

import re
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ISO_DATE = re.compile(r"\b[0-9]{4}-[0-9]{2}-[0-9]{2}\b")


def upgrade():
    op.add_column("patients", sa.Column("phone", sa.String(length=16), nullable=True))
    op.add_column("patients", sa.Column("gp", sa.String(length=200), nullable=True))
    op.add_column("patients", sa.Column("mdt_flagged_on", sa.Date(), nullable=True))
    op.add_column(
        "controls", sa.Column("missed", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.execute(
        "UPDATE controls SET missed = true WHERE stage = 'open' AND EXISTS (SELECT 1 FROM"
        " planned_exams AS e WHERE e.patient_id = controls.patient_id AND e.due = controls.due"
        " AND e.state = 'missed')"
    )
    patients = sa.table(
        "patients",
        sa.column("id", sa.Integer),
        sa.column("mdt_reason", sa.Text),
        sa.column("mdt_review", sa.Boolean),
        sa.column("mdt_flagged_on", sa.Date),
    )
    bind = op.get_bind()
    flagged = bind.execute(
        sa.select(patients.c.id, patients.c.mdt_reason).where(patients.c.mdt_review)
    ).all()
    for patient_id, reason in flagged:
        days = ISO_DATE.findall(reason or "")
        if days:
            bind.execute(
                sa.update(patients)
                .where(patients.c.id == patient_id)
                .values(mdt_flagged_on=date.fromisoformat(max(days)))
            )


def downgrade():
    with op.batch_alter_table("controls") as batch:
        batch.drop_column("missed")
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("mdt_flagged_on")
        batch.drop_column("gp")
        batch.drop_column("phone")
