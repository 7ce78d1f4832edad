"""The feeds' ETag reads a clinic's latest patient change from an index.

A patient's lists (on hold, MDT review, lost to follow-up) change the calendar's events
without changing an exam; the ETag includes the clinic's latest `patients.updated_at`,
which this index gives as its last entry per clinic.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_patients_clinic_updated", "patients", ["clinic_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_patients_clinic_updated", table_name="patients")
