"""The control as a row of its own: the lists read indexed ranges, not every open exam.

Each open control (one patient's open, booked or missed exams due the same day, in one
stage) becomes a row holding the dates its list changes on. The rows are derived from the
exams already stored; the exams themselves, their history and calendar UIDs are untouched.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CHUNK = 5000
RESULTS_AT_ONCE = date(1, 1, 1)
TO_BOOK = sa.text("stage = 'open'")
WAITING = sa.text("stage IN ('booked', 'coordinated')")
HELD = sa.text("hold_until IS NOT NULL")


def upgrade():
    controls = op.create_table(
        "controls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("local_number", sa.Integer(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("due_working_day", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("codes", sa.String(length=200), nullable=False),
        sa.Column("booked_date", sa.Date(), nullable=True),
        sa.Column("results_on", sa.Date(), nullable=True),
        sa.Column("hold_until", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "stage IN ('open', 'booked', 'coordinated')", name=op.f("ck_controls_stage")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_controls_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_controls_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_controls")),
        sa.UniqueConstraint("patient_id", "due", "stage", name="uq_controls_patient_due_stage"),
    )
    op.create_index(op.f("ix_controls_patient_id"), "controls", ["patient_id"])
    op.create_index(
        "ix_controls_due", "controls", ["clinic_id", "due", "local_number", "hold_until"]
    )
    op.create_index(
        "ix_controls_to_book",
        "controls",
        ["clinic_id", "due", "local_number", "hold_until"],
        sqlite_where=TO_BOOK,
        postgresql_where=TO_BOOK,
    )
    op.create_index(
        "ix_controls_waiting",
        "controls",
        ["clinic_id", "due", "local_number", "stage", "results_on", "hold_until"],
        sqlite_where=WAITING,
        postgresql_where=WAITING,
    )
    op.create_index(
        "ix_controls_held",
        "controls",
        ["clinic_id", "due", "local_number", "hold_until"],
        sqlite_where=HELD,
        postgresql_where=HELD,
    )
    op.create_index(
        "ix_patients_lost_to_follow_up",
        "patients",
        ["clinic_id"],
        sqlite_where=sa.text("lost_to_follow_up"),
        postgresql_where=sa.text("lost_to_follow_up"),
    )
    _derive(op.get_bind(), controls)


def downgrade():
    op.drop_index("ix_patients_lost_to_follow_up", table_name="patients")
    op.drop_table("controls")


def _derive(bind, controls):
    """The rows of every patient's open exams, as services/control_rows.py makes them."""
    exams = bind.execute(
        sa.text(
            "SELECT e.patient_id, e.clinic_id, p.local_number, p.hold_until, e.code, e.due,"
            " e.due_working_day, e.state, e.booked_date, e.coordinated_with_id,"
            " e.coordinated_date, e.coordinated_done"
            " FROM planned_exams e JOIN patients p ON p.id = e.patient_id"
            " WHERE e.state IN ('open', 'booked', 'missed')"
        )
    )
    rows = {}
    for exam in exams:
        stage, results_on = _stage(exam)
        key = (exam.patient_id, _date(exam.due), stage)
        row = rows.setdefault(
            key,
            {
                "clinic_id": exam.clinic_id,
                "patient_id": exam.patient_id,
                "local_number": exam.local_number,
                "due": _date(exam.due),
                "due_working_day": _date(exam.due_working_day),
                "stage": stage,
                "codes": [],
                "booked_date": None,
                "results_on": None,
                "hold_until": _date(exam.hold_until) if stage != "booked" else None,
            },
        )
        row["codes"].append(exam.code)
        row["due_working_day"] = min(row["due_working_day"], _date(exam.due_working_day))
        row["booked_date"] = _earliest(row["booked_date"], _date(exam.booked_date))
        row["results_on"] = _earliest(row["results_on"], results_on)
    values = list(rows.values())
    for row in values:
        row["codes"] = " ".join(sorted(row["codes"]))
    for start in range(0, len(values), CHUNK):
        bind.execute(controls.insert(), values[start : start + CHUNK])


def _stage(exam):
    if exam.state == "booked":
        booked = _date(exam.booked_date)
        return "booked", booked + timedelta(days=1) if booked else None
    if exam.state == "open" and exam.coordinated_with_id is not None:
        partner = _date(exam.coordinated_date)
        if exam.coordinated_done or partner is None:
            return "coordinated", RESULTS_AT_ONCE
        return "coordinated", partner + timedelta(days=1)
    return "open", None


def _date(value):
    """SQLite hands dates back as text in a raw query."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _earliest(a, b):
    return b if a is None else a if b is None else min(a, b)
