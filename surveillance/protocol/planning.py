"""The rules R1-R11 of protocol.md as functions of a history, a protocol and a date."""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, timedelta

from .calendar import add_months, working_day_on_or_after
from .model import History, Plan, PlannedExam, PrimaryControl, Protocol, Settings, Treatment

DEFAULT_SETTINGS = Settings()


def find_anchor(protocol: Protocol, treatments: tuple[Treatment, ...]) -> Treatment | None:
    """R2: the latest anchoring treatment; on the same day the one with ablation wins."""
    preference = {kind: rank for rank, kind in enumerate(protocol.anchoring_kinds)}
    anchors = [t for t in treatments if t.kind in preference]
    if not anchors:
        return None
    return max(anchors, key=lambda t: (t.date, -preference[t.kind]))


def has_ended(protocol: Protocol, treatments: tuple[Treatment, ...], anchor: Treatment) -> bool:
    """A treatment that ends this surveillance (a transplant) on or after the anchor."""
    return any(t.kind in protocol.ending_kinds and t.date >= anchor.date for t in treatments)


def make_plan(protocol: Protocol, history: History, settings: Settings = DEFAULT_SETTINGS) -> Plan:
    """The plan of R1-R5, R8 and R11: every exam dated from the anchor, never from each other."""
    anchor = find_anchor(protocol, history.treatments) if history.candidate else None
    if anchor is None or has_ended(protocol, history.treatments, anchor):
        return Plan(protocol.code, None)
    by_code = _controls_by_code(history.primary_controls)
    window = settings.coordination_window_days
    exams = []
    for month, codes in protocol.schedules[anchor.kind]:
        due = add_months(anchor.date, month)
        working_day = working_day_on_or_after(due, settings.closed_days, settings.closed_annual)
        for code in codes:
            partner = _nearest(by_code.get(code), due, window) if by_code else None
            exams.append(PlannedExam(code, month, due, working_day, partner))
    return Plan(protocol.code, anchor, tuple(exams))


def _controls_by_code(controls: tuple[PrimaryControl, ...]) -> dict[str, list[PrimaryControl]]:
    by_code: dict[str, list[PrimaryControl]] = {}
    for control in sorted(controls, key=lambda c: c.date):
        for code in control.exams:
            by_code.setdefault(code, []).append(control)
    return by_code


def _nearest(
    controls: list[PrimaryControl] | None, due: date, window: int
) -> PrimaryControl | None:
    """R8: the control nearest `due` within the window; on a tie, the earlier one."""
    if not controls:
        return None
    i = bisect_left(controls, due, key=lambda c: c.date)
    candidates = [c for c in controls[max(i - 1, 0) : i + 1] if abs((c.date - due).days) <= window]
    # Same distance: the earlier date sorts first, and min keeps the first of equals.
    return min(candidates, key=lambda c: (abs((c.date - due).days), c.date), default=None)


def timing_state(
    due: date, today: date, *, booked: bool = False, settings: Settings = DEFAULT_SETTINGS
) -> str:
    """R10 for an open exam: upcoming, to_book, booked or overdue."""
    if today > due + timedelta(days=settings.overdue_after_days):
        return "overdue"
    if booked:
        return "booked"
    if today < due - timedelta(days=settings.book_ahead_days):
        return "upcoming"
    return "to_book"


def needs_mdt_review(
    code: str, result: str | None, value: float | None, settings: Settings = DEFAULT_SETTINGS
) -> bool:
    """R9: a suspicious CT, or a CEA above the upper limit."""
    if code == "cea":
        return value is not None and value > settings.cea_upper_limit
    return result == "suspicious"
