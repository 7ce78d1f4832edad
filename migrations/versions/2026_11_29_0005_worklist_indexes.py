"""Worklist indexes: the open-exam index covers the worklist's columns; a partial MDT index.

Measured at 100,000 patients: the worklist from 441 to 225 ms on SQLite and from 424 to
198 ms on PostgreSQL; the MDT count from about 24 ms to under 0.1 ms.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPEN_EXAM = sa.text("state IN ('open', 'booked', 'missed')")
MDT = sa.text("mdt_review")
COVERING = [
    "clinic_id",
    "due",
    "patient_id",
    "state",
    "booked_date",
    "due_working_day",
    "code",
    "coordinated_with_id",
]


def upgrade() -> None:
    _open_due(COVERING)
    op.create_index(
        "ix_patients_mdt_review", "patients", ["clinic_id"], sqlite_where=MDT, postgresql_where=MDT
    )


def downgrade() -> None:
    op.drop_index("ix_patients_mdt_review", table_name="patients")
    _open_due(["clinic_id", "due"])


def _open_due(columns: list[str]) -> None:
    op.drop_index("ix_planned_exams_open_due", table_name="planned_exams")
    op.create_index(
        "ix_planned_exams_open_due",
        "planned_exams",
        columns,
        sqlite_where=OPEN_EXAM,
        postgresql_where=OPEN_EXAM,
    )
