"""The worklist by hand: each list as raw SQL against the controls, the best the schema allows.

Written out, not taken from the code under test; the partial indexes' conditions are
repeated literally, as SQLite needs to use them.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from _databases import begin, insert_many

from surveillance.services.control_rows import control_rows, sort_keys

NOT_HELD = "(hold_until IS NULL OR hold_until <= :today)"
WINDOW = "due >= :late AND due <= :horizon"
WAITING = "stage IN ('booked', 'coordinated')"
# In R10's order, which is the page's.
LISTS = {
    "overdue": f"due < :late AND {NOT_HELD}",
    "results_missing": f"{WAITING} AND due >= :late AND (stage = 'booked' OR due <= :horizon)"
    f" AND results_on <= :today AND {NOT_HELD}",
    "to_book": f"stage = 'open' AND {WINDOW} AND {NOT_HELD}",
    "booked": f"{WAITING} AND due >= :late AND stage = 'booked'"
    " AND (results_on IS NULL OR results_on > :today)",
    "coordinated": f"{WAITING} AND {WINDOW} AND stage = 'coordinated'"
    f" AND results_on > :today AND {NOT_HELD}",
    "on_hold": "hold_until IS NOT NULL AND hold_until > :today",
}
RANK = {name: rank for rank, name in enumerate(LISTS)}


def count_sql(clinics: str) -> str:
    """One row: the count of every list, each a range of its own index."""
    counts = ",\n".join(
        f"(SELECT count(*) FROM controls WHERE clinic_id IN ({clinics}) AND {where}) AS {name}"
        for name, where in LISTS.items()
    )
    return f"SELECT {counts}"


def page_sql(clinics: str) -> str:
    """The first :page_size controls of the lists in R10's order, with the patient's name."""
    parts = "\n    UNION ALL\n".join(
        f"""    SELECT * FROM (
        SELECT CAST({RANK[name]} AS INTEGER) AS rank, patient_id, due, due_working_day,
               booked_date, codes, local_number, missed
        FROM controls WHERE clinic_id IN ({clinics}) AND {where}
        ORDER BY due, local_number LIMIT :page_size) AS l{RANK[name]}"""
        for name, where in LISTS.items()
    )
    return f"""SELECT c.rank, c.patient_id, c.due, c.due_working_day, c.booked_date, c.codes,
       c.local_number, p.name, p.birth_date, c.missed
FROM (
{parts}
) AS c JOIN patients AS p ON p.id = c.patient_id
ORDER BY c.rank, c.due, c.local_number LIMIT :page_size"""


COLUMNS = ["clinic_id", "patient_id", "local_number", "name_order", "birth_date", "due"]
COLUMNS += ["due_working_day", "stage", "codes", "booked_date", "results_on", "hold_until"]
COLUMNS += ["missed"]


DATES = {"due", "due_working_day", "booked_date", "coordinated_date", "hold_until", "birth_date"}


def rebuild_controls(conn) -> None:
    """The controls again after the exams were changed by raw SQL (as the services would)."""
    begin(conn)
    conn.execute("DELETE FROM controls")
    cur = conn.execute(
        "SELECT e.patient_id, e.clinic_id, p.local_number, p.name, p.birth_date, p.hold_until,"
        " e.code, e.due,"
        " e.due_working_day, e.state, e.booked_date, e.coordinated_with_id,"
        " e.coordinated_date, e.coordinated_done"
        " FROM planned_exams e JOIN patients p ON p.id = e.patient_id"
        " WHERE e.state IN ('open', 'booked', 'missed') ORDER BY e.patient_id"
    )
    names = [d[0] for d in cur.description]
    by_patient: dict[int, list] = {}
    for values in cur.fetchall():
        exam = SimpleNamespace(**{n: _date(n, v) for n, v in zip(names, values)})
        by_patient.setdefault(exam.patient_id, []).append(exam)
    rows = [
        tuple(_bindable(row[c]) for c in COLUMNS)
        for exams in by_patient.values()
        for row in control_rows(
            exams[0].patient_id,
            exams[0].clinic_id,
            sort_keys(exams[0].local_number, exams[0].name, exams[0].birth_date),
            exams[0].hold_until,
            exams,
        )
    ]
    insert_many(conn, "controls", COLUMNS, rows)
    conn.commit()


def _date(name: str, value):
    return date.fromisoformat(value) if name in DATES and isinstance(value, str) else value


def _bindable(value):
    # SQLAlchemy stores SQLite dates as ISO text: the raw rows must compare alike.
    return value.isoformat() if hasattr(value, "isoformat") else value
