"""The report's figures per quarter, from plain exam rows: pure, tested with hand-counted data.

A control is the exams of one plan due the same day. It counts for the quarter of its due
date once its window has closed (due + overdue_after_days before today) or it is done; it
is done within its window when every exam not cancelled is done by due + the same days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

from ..protocol import Settings, needs_mdt_review

DEFAULT_SETTINGS = Settings()
OPEN = frozenset({"open", "booked", "missed"})


@dataclass(frozen=True, slots=True)
class ExamRow:
    """One planned exam, without anything that names its patient but an opaque id."""

    patient_id: int
    anchor_id: int
    code: str
    due: date
    state: str
    done_date: date | None = None
    result: str | None = None
    result_value: float | None = None


@dataclass(frozen=True, slots=True)
class Quarter:
    """The figures of one calendar quarter."""

    label: str  # "2026-Q1"
    controls: int  # due in the quarter, window closed or done
    in_window: int  # of those, done within the window
    median_delay: float | None  # days from due to the last exam done, done controls
    overdue: int  # exams due in the quarter, still open after their window
    mdt_flags: int  # results in the quarter that put a patient on the MDT list
    completed: int  # programmes whose last exam was done in the quarter
    lost: int = 0  # patients lost to follow-up (R14) by the control that made them so
    decisions: int = 0  # MDT decisions in the quarter that cleared a flag (R13)
    median_decision_days: float | None = None  # days from the flag to that decision

    @property
    def share(self) -> float | None:
        """The share of controls done within their window, 0-1 (None without controls)."""
        return self.in_window / self.controls if self.controls else None


def quarter_of(day: date) -> str:
    """ "2026-Q1" for a day in January-March 2026."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarters(
    rows: list[ExamRow],
    completed_patients: set[int],
    today: date,
    settings: Settings = DEFAULT_SETTINGS,
    lost: Iterable[date] = (),
    decisions: Iterable[tuple[date, date]] = (),
) -> list[Quarter]:
    """The figures of every quarter that has a due exam up to today, oldest first.

    `lost`: the date of each lost-to-follow-up flag (the engine's: the later of the two
    controls overdue); `decisions`: (decision date, date of the flag it cleared) pairs.
    """
    window = timedelta(days=settings.overdue_after_days)
    controls: dict[tuple, list[ExamRow]] = defaultdict(list)
    for row in rows:
        if row.state != "cancelled":
            controls[(row.patient_id, row.anchor_id, row.due)].append(row)
    figures: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    delays: dict[str, list[int]] = defaultdict(list)
    for (_patient, _anchor, due), exams in controls.items():
        _count_control(figures, delays, due, exams, today, window)
    for row in rows:
        _count_exam(figures, row, today, window, settings)
    for day in _last_done(rows, completed_patients).values():
        figures[quarter_of(day)]["completed"] += 1
    for day in lost:
        figures[quarter_of(day)]["lost"] += 1
    waits: dict[str, list[int]] = defaultdict(list)
    for decided, raised in decisions:
        figures[quarter_of(decided)]["decisions"] += 1
        waits[quarter_of(decided)].append((decided - raised).days)
    return [
        _quarter(label, figures[label], delays[label], waits[label]) for label in sorted(figures)
    ]


def _count_control(figures, delays, due: date, exams, today: date, window: timedelta) -> None:
    done = all(e.state == "done" and e.done_date for e in exams)
    if due > today or (not done and due + window >= today):
        return  # not yet due, or its window is still open
    label = quarter_of(due)
    figures[label]["controls"] += 1
    if done:
        last = max(e.done_date for e in exams)
        delays[label].append((last - due).days)
        figures[label]["in_window"] += last <= due + window


def _count_exam(figures, row: ExamRow, today: date, window: timedelta, settings) -> None:
    if row.state in OPEN and row.due + window < today:
        figures[quarter_of(row.due)]["overdue"] += 1
    done = row.done_date if row.state == "done" else None
    if (
        done
        and done <= today
        and needs_mdt_review(row.code, row.result, row.result_value, settings)
    ):
        figures[quarter_of(done)]["mdt_flags"] += 1


def _last_done(rows: list[ExamRow], patients: set[int]) -> dict[int, date]:
    last: dict[int, date] = {}
    for row in rows:
        if row.patient_id in patients and row.done_date:
            last[row.patient_id] = max(last.get(row.patient_id, row.done_date), row.done_date)
    return last


def _quarter(label: str, counts: dict, delays: list[int], waits: list[int]) -> Quarter:
    return Quarter(
        label,
        counts["controls"],
        counts["in_window"],
        median(delays) if delays else None,
        counts["overdue"],
        counts["mdt_flags"],
        counts["completed"],
        counts["lost"],
        counts["decisions"],
        median(waits) if waits else None,
    )
