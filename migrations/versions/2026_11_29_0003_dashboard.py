"""Dashboard: server-side sessions, login throttling, notes, name search key, contact attempts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "patient_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=254), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_patient_notes_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_notes")),
    )
    with op.batch_alter_table("patient_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_notes_patient_id"), ["patient_id"], unique=False
        )

    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("name_key", sa.String(length=200), server_default="", nullable=False)
        )
    _fill_name_keys()

    with op.batch_alter_table("planned_exams", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_attempt", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("cancel_note", sa.Text(), nullable=True))
    # A missed exam stays on the worklist: the worklist's partial index covers it too.
    _open_due_index(("'open'", "'booked'", "'missed'"))


def downgrade() -> None:
    _open_due_index(("'open'", "'booked'"))
    with op.batch_alter_table("planned_exams", schema=None) as batch_op:
        batch_op.drop_column("cancel_note")
        batch_op.drop_column("contact_attempt")

    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("name_key")

    with op.batch_alter_table("patient_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_notes_patient_id"))

    op.drop_table("patient_notes")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))

    op.drop_table("user_sessions")
    op.drop_table("login_throttle")


def _fill_name_keys() -> None:
    """Case-fold the names already there (in Python: SQLite's lower() knows no Æ, Ø or Å)."""
    patients = sa.table(
        "patients",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(patients.c.id, patients.c.name)).all()
    if rows:
        connection.execute(
            patients.update()
            .where(patients.c.id == sa.bindparam("pid"))
            .values(name_key=sa.bindparam("key")),
            [{"pid": pid, "key": name.casefold()} for pid, name in rows],
        )


def _open_due_index(states: tuple[str, ...]) -> None:
    """Make the worklist's partial index again for exams in `states`."""
    condition = sa.text(f"state IN ({', '.join(states)})")
    op.drop_index("ix_planned_exams_open_due", table_name="planned_exams")
    op.create_index(
        "ix_planned_exams_open_due",
        "planned_exams",
        ["clinic_id", "due"],
        sqlite_where=condition,
        postgresql_where=condition,
    )
