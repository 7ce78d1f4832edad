"""Initial schema: clinics, users, patients, treatments, primary controls, exams, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinics")),
        sa.UniqueConstraint("code", name=op.f("uq_clinics_code")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('nurse', 'admin')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("local_number", sa.Integer(), nullable=False),
        sa.Column("national_id", sa.String(length=11), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("protocol", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("mdt_review", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("mdt_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'completed', 'not_candidate', 'deceased', 'moved', 'transplanted')",
            name=op.f("ck_patients_status"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_patients_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("local_number", name=op.f("uq_patients_local_number")),
        sa.UniqueConstraint("national_id", name=op.f("uq_patients_national_id")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "user_clinics",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_user_clinics_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_clinics_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "clinic_id", name=op.f("pk_user_clinics")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_audit_events_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_audit_events_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_events_user_id"), ["user_id"], unique=False)

    op.create_table(
        "liver_treatments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_liver_treatments_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liver_treatments")),
    )
    with op.batch_alter_table("liver_treatments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_liver_treatments_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "primary_controls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("exams", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_primary_controls_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_primary_controls")),
    )
    with op.batch_alter_table("primary_controls", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_primary_controls_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "planned_exams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("anchor_treatment_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("due_working_day", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("booked_date", sa.Date(), nullable=True),
        sa.Column("booked_time", sa.Time(), nullable=True),
        sa.Column("booked_place", sa.String(length=200), nullable=True),
        sa.Column("done_date", sa.Date(), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("result_value", sa.Double(), nullable=True),
        sa.Column("missed_reason", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.String(length=32), nullable=True),
        sa.Column("booking_to_cancel", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("coordinated_with_id", sa.Integer(), nullable=True),
        sa.Column("coordinated_date", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("sequence", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'booked', 'done', 'missed', 'cancelled')",
            name=op.f("ck_planned_exams_state"),
        ),
        sa.ForeignKeyConstraint(
            ["anchor_treatment_id"],
            ["liver_treatments.id"],
            name=op.f("fk_planned_exams_anchor_treatment_id_liver_treatments"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_planned_exams_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["coordinated_with_id"],
            ["primary_controls.id"],
            name=op.f("fk_planned_exams_coordinated_with_id_primary_controls"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_planned_exams_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planned_exams")),
        sa.UniqueConstraint(
            "patient_id", "anchor_treatment_id", "code", "month", name="uq_planned_exams_identity"
        ),
        sa.UniqueConstraint("uid", name=op.f("uq_planned_exams_uid")),
    )
    with op.batch_alter_table("planned_exams", schema=None) as batch_op:
        batch_op.create_index(
            "ix_planned_exams_booking_to_cancel",
            ["clinic_id"],
            unique=False,
            sqlite_where=sa.text("booking_to_cancel"),
            postgresql_where=sa.text("booking_to_cancel"),
        )
        batch_op.create_index(
            "ix_planned_exams_open_due",
            ["clinic_id", "due"],
            unique=False,
            sqlite_where=sa.text("state IN ('open', 'booked')"),
            postgresql_where=sa.text("state IN ('open', 'booked')"),
        )
        batch_op.create_index(
            batch_op.f("ix_planned_exams_patient_id"), ["patient_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("planned_exams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planned_exams_patient_id"))
        batch_op.drop_index(
            "ix_planned_exams_open_due",
            sqlite_where=sa.text("state IN ('open', 'booked')"),
            postgresql_where=sa.text("state IN ('open', 'booked')"),
        )
        batch_op.drop_index(
            "ix_planned_exams_booking_to_cancel",
            sqlite_where=sa.text("booking_to_cancel"),
            postgresql_where=sa.text("booking_to_cancel"),
        )

    op.drop_table("planned_exams")
    with op.batch_alter_table("primary_controls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_primary_controls_patient_id"))

    op.drop_table("primary_controls")
    with op.batch_alter_table("liver_treatments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_liver_treatments_patient_id"))

    op.drop_table("liver_treatments")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_user_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_patient_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))

    op.drop_table("audit_events")
    op.drop_table("user_clinics")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_clinic_id"))

    op.drop_table("patients")
    op.drop_table("users")
    op.drop_table("clinics")
