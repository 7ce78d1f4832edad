"""The plan as a timeline: controls (exams due the same day) in the past, today, the future."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import groupby


@dataclass(frozen=True, slots=True)
class Control:
    """The exams of one patient due on one day, as the timeline shows them."""

    due: date
    due_working_day: date
    month: int
    exams: tuple
    past: bool

    @property
    def cancelled(self) -> bool:
        return all(e.state == "cancelled" for e in self.exams)


def timeline(exams, today: date) -> tuple[list[Control], list[Control]]:
    """Controls before today and from today on, each sorted by due date."""
    ordered = sorted(exams, key=lambda e: (e.due, e.state == "cancelled", e.code))
    controls = [
        Control(due, group[0].due_working_day, group[0].month, tuple(group), due < today)
        for due, group in ((d, list(g)) for d, g in groupby(ordered, key=lambda e: e.due))
    ]
    return [c for c in controls if c.past], [c for c in controls if not c.past]
