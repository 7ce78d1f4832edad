"""Reminders: the digest outbox, clinics' digest recipients, users' opt-in.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("message_id", sa.String(length=254), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("local_references", sa.JSON(), nullable=True),
        sa.Column("recipients", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'failed', 'skipped')", name=op.f("ck_digests_state")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_digests_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
        sa.UniqueConstraint("clinic_id", "day", name="uq_digests_clinic_day"),
        sa.UniqueConstraint("message_id", name=op.f("uq_digests_message_id")),
    )
    # Plain ADD COLUMN on SQLite too (no table copy): NOT NULL needs the server default.
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("digest_recipients", sa.Text(), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "digest_include_references", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("digest_opt_in", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("digest_opt_in")

    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("digest_include_references")
        batch_op.drop_column("digest_recipients")

    op.drop_table("digests")
