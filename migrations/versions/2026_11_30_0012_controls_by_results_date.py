"""A control's exams whose results are missing from different days are stored apart.

R10 lists each exam: of a control whose CEA was booked on the 10th and CT on the 14th, the
CEA's results are missing from the 11th while the CT is still booked. 0010 stored one row
per (patient, due date, stage) with the earliest date, so the whole control showed
"results missing" from the 11th. The key gains results_on, and the rows 0010 merged are
split; every other row, and the exams, stay as they are.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

RESULTS_AT_ONCE = date(1, 1, 1)  # as 0010: a coordinated exam whose partner is done


# The partial indexes of 0010: batch mode on SQLite copies the table and would make them
# again without their WHERE (reflection does not read it), so they are dropped and remade.
PARTIAL = {
    "ix_controls_to_book": (["clinic_id", "due", "local_number", "hold_until"], "stage = 'open'"),
    "ix_controls_waiting": (
        ["clinic_id", "due", "local_number", "stage", "results_on", "hold_until"],
        "stage IN ('booked', 'coordinated')",
    ),
    "ix_controls_held": (
        ["clinic_id", "due", "local_number", "hold_until"],
        "hold_until IS NOT NULL",
    ),
}


def upgrade():
    _rekey("uq_controls_patient_due_stage", "uq_controls_patient_due_stage_results", True)
    _split(op.get_bind())


def _rekey(old: str, new: str, with_results: bool) -> None:
    for name in PARTIAL:
        op.drop_index(name, table_name="controls")
    with op.batch_alter_table("controls") as batch:
        batch.drop_constraint(old, type_="unique")
        columns = ["patient_id", "due", "stage"] + (["results_on"] if with_results else [])
        batch.create_unique_constraint(new, columns)
    for name, (columns, where) in PARTIAL.items():
        condition = sa.text(where)
        op.create_index(
            name, "controls", columns, sqlite_where=condition, postgresql_where=condition
        )


def downgrade():
    # The split rows would break the old key: each group keeps its earliest row (with its own
    # codes, until the patient's next re-plan rewrites the row).
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "DELETE FROM controls WHERE EXISTS (SELECT 1 FROM controls AS o"
            " WHERE o.patient_id = controls.patient_id AND o.due = controls.due"
            " AND o.stage = controls.stage AND o.results_on < controls.results_on)"
        )
    )
    _rekey("uq_controls_patient_due_stage_results", "uq_controls_patient_due_stage", False)


def _split(bind):
    """Each waiting control whose exams' results are missing from different days: a row a day."""
    waiting = bind.execute(
        sa.text(
            "SELECT patient_id, due, code, state, booked_date, coordinated_date,"
            " coordinated_done FROM planned_exams WHERE state = 'booked'"
            " OR (state = 'open' AND coordinated_with_id IS NOT NULL)"
        )
    )
    groups: dict[tuple, dict] = defaultdict(lambda: defaultdict(list))
    for exam in waiting:
        stage, missing_from = _missing_from(exam)
        groups[(exam.patient_id, _date(exam.due), stage)][missing_from].append(exam)
    controls = sa.table(*_COLUMNS)
    for (patient_id, due, stage), by_day in groups.items():
        if len(by_day) < 2:
            continue
        where = (controls.c.patient_id == patient_id, controls.c.due == due)
        merged = bind.execute(
            sa.select(controls).where(*where, controls.c.stage == stage)
        ).mappings()
        for old in merged.all():
            bind.execute(sa.delete(controls).where(controls.c.id == old["id"]))
            bind.execute(
                controls.insert(),
                [
                    {
                        **{k: v for k, v in old.items() if k != "id"},
                        "codes": " ".join(sorted(e.code for e in exams)),
                        "booked_date": min(
                            (_date(e.booked_date) for e in exams if e.booked_date), default=None
                        ),
                        "results_on": missing_from,
                    }
                    for missing_from, exams in by_day.items()
                ],
            )


_COLUMNS = (
    "controls",
    sa.column("id"),
    sa.column("clinic_id"),
    sa.column("patient_id"),
    sa.column("local_number"),
    sa.column("due", sa.Date),
    sa.column("due_working_day", sa.Date),
    sa.column("stage"),
    sa.column("codes"),
    sa.column("booked_date", sa.Date),
    sa.column("results_on", sa.Date),
    sa.column("hold_until", sa.Date),
)


def _missing_from(exam) -> tuple[str, date | None]:
    """The stage and the day results are missing from, as services/control_rows.py says."""
    if exam.state == "booked":
        booked = _date(exam.booked_date)
        return "booked", booked + timedelta(days=1) if booked else None
    partner = _date(exam.coordinated_date)
    if exam.coordinated_done or partner is None:
        return "coordinated", RESULTS_AT_ONCE
    return "coordinated", partner + timedelta(days=1)


def _date(value):
    """SQLite hands dates back as text in a raw query."""
    return date.fromisoformat(value) if isinstance(value, str) else value
