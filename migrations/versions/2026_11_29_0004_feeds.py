"""Calendar feeds: subscriptions by secret token, a clinic's opt-in to details, the feed's index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("etag", sa.String(length=64), nullable=True),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(kind = 'clinic' AND clinic_id IS NOT NULL AND user_id IS NULL) OR (kind = 'user' AND user_id IS NOT NULL AND clinic_id IS NULL)",
            name=op.f("ck_calendar_feeds_owner"),
        ),
        sa.CheckConstraint("kind IN ('clinic', 'user')", name=op.f("ck_calendar_feeds_kind")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_calendar_feeds_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_calendar_feeds_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calendar_feeds_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_calendar_feeds_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "feed_include_details", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )

    with op.batch_alter_table("planned_exams", schema=None) as batch_op:
        batch_op.create_index(
            "ix_planned_exams_feed",
            [
                "clinic_id",
                "due_working_day",
                "patient_id",
                "anchor_treatment_id",
                "month",
                "id",
                "state",
                "sequence",
                "updated_at",
            ],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("planned_exams", schema=None) as batch_op:
        batch_op.drop_index("ix_planned_exams_feed")

    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("feed_include_details")

    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_feeds_user_id"))
        batch_op.drop_index(batch_op.f("ix_calendar_feeds_clinic_id"))

    op.drop_table("calendar_feeds")
