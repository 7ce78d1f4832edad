"""protocol.md v2: primary controls done with results, MDT decisions, measurements, holds.

Existing rows keep their meaning: every primary control stays "planned" (a past one whose
results were never recorded is then "results missing", as R8 v2 wants), and a patient
marked completed while an exam of theirs is still open, booked or missed, or while on the
MDT list, is active again (R7 v2).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_STATUSES = ("active", "completed", "not_candidate", "deceased", "moved", "transplanted")
NEW_STATUSES = (
    "active",
    "on_hold",
    "completed",
    "not_candidate",
    "deceased",
    "moved",
    "declined",
    "transplanted",
)
DECISIONS = ("no_recurrence", "recheck", "treatment_planned", "resume", "not_candidate")


def _choice(name: str, values: tuple[str, ...]) -> str:
    return f"{name} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("hold_until", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("lost_to_follow_up", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.drop_constraint(op.f("ck_patients_status"), type_="check")
        batch.create_check_constraint("status", _choice("status", NEW_STATUSES))
    with op.batch_alter_table("primary_controls") as batch:
        batch.add_column(sa.Column("done", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("results", sa.JSON(), server_default="{}", nullable=False))
    with op.batch_alter_table("planned_exams") as batch:
        for column in ("coordinated_done", "result_from_control"):
            batch.add_column(
                sa.Column(column, sa.Boolean(), server_default=sa.false(), nullable=False)
            )
        # An extra exam (R9, R13) has no month: it is known by its code and due date.
        batch.alter_column("month", existing_type=sa.Integer(), nullable=True)
    _create_decisions()
    _create_measurements()
    _reopen_wrongly_completed()


def _create_decisions() -> None:
    op.create_table(
        "mdt_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("exam", sa.String(length=32), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("author", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(_choice("decision", DECISIONS), name=op.f("ck_mdt_decisions_decision")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_mdt_decisions_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mdt_decisions")),
    )
    op.create_index(op.f("ix_mdt_decisions_patient_id"), "mdt_decisions", ["patient_id"])


def _create_measurements() -> None:
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_measurements_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurements")),
    )
    op.create_index(op.f("ix_measurements_patient_id"), "measurements", ["patient_id"])


def _reopen_wrongly_completed() -> None:
    """R7 v2: completed only when nothing is open, booked or missed and no MDT flag stands."""
    op.execute(
        sa.text(
            "UPDATE patients SET status = 'active', version = version + 1"
            " WHERE status = 'completed' AND (mdt_review OR EXISTS ("
            " SELECT 1 FROM planned_exams e WHERE e.patient_id = patients.id"
            " AND e.state IN ('open', 'booked', 'missed')))"
        )
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_measurements_patient_id"), table_name="measurements")
    op.drop_table("measurements")
    op.drop_index(op.f("ix_mdt_decisions_patient_id"), table_name="mdt_decisions")
    op.drop_table("mdt_decisions")
    op.execute(sa.text("DELETE FROM planned_exams WHERE month IS NULL"))
    with op.batch_alter_table("planned_exams") as batch:
        batch.alter_column("month", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("result_from_control")
        batch.drop_column("coordinated_done")
    with op.batch_alter_table("primary_controls") as batch:
        batch.drop_column("results")
        batch.drop_column("done")
    # The statuses 0005 does not know fall back to what they were derived from.
    op.execute(sa.text("UPDATE patients SET status = 'active' WHERE status = 'on_hold'"))
    op.execute(sa.text("UPDATE patients SET status = 'not_candidate' WHERE status = 'declined'"))
    with op.batch_alter_table("patients") as batch:
        batch.drop_constraint(op.f("ck_patients_status"), type_="check")
        batch.create_check_constraint("status", _choice("status", OLD_STATUSES))
        batch.drop_column("lost_to_follow_up")
        batch.drop_column("hold_until")
