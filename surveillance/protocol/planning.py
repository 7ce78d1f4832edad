"""The plan of protocol.md v2 (R1-R6, R8, R11) as a function of the facts and a protocol."""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, timedelta
from functools import lru_cache

from .calendar import add_months, working_day_on_or_after
from .model import (
    ControlSpec,
    History,
    Plan,
    PlannedExam,
    PrimaryControl,
    Protocol,
    Settings,
    Treatment,
)
from .results import extra_exam_origins
from .states import Decision, EndReason, ExamState, WorkList

DEFAULT_SETTINGS = Settings()


def find_anchor(protocol: Protocol, treatments: tuple[Treatment, ...]) -> Treatment | None:
    """R2: the latest anchoring treatment; on the same day the one with ablation wins."""
    if len(treatments) == 1:  # most patients
        only = treatments[0]
        return only if only.kind in protocol.anchoring_kinds else None
    preference = {kind: rank for rank, kind in enumerate(protocol.anchoring_kinds)}
    anchors = [t for t in treatments if t.kind in preference]
    if not anchors:
        return None
    return max(anchors, key=lambda t: (t.date, -preference[t.kind]))


def has_ended(protocol: Protocol, treatments: tuple[Treatment, ...], anchor: Treatment) -> bool:
    """A treatment that ends this surveillance (a transplant) on or after the anchor."""
    return any(t.kind in protocol.ending_kinds and t.date >= anchor.date for t in treatments)


def end_reason(protocol: Protocol, history: History) -> EndReason | None:
    """R1, R13, R15: why surveillance has ended, or None while the patient is a candidate."""
    return _end_reason(protocol, history, find_anchor(protocol, history.treatments))


def _end_reason(protocol: Protocol, history: History, anchor: Treatment | None) -> EndReason | None:
    if not history.candidate:
        return history.end_reason or EndReason.NOT_CANDIDATE
    ending = any(t.kind in protocol.ending_kinds for t in history.treatments)
    if ending and (anchor is None or has_ended(protocol, history.treatments, anchor)):
        return EndReason.TRANSPLANTED
    if not history.decisions:
        return None
    latest = max(history.decisions, key=lambda d: d.date)
    # An anchoring treatment after the decision starts a new plan (as after a transplant).
    if latest.decision == Decision.NOT_CANDIDATE and (anchor is None or anchor.date <= latest.date):
        return EndReason.NOT_CANDIDATE
    return None


def make_plan(protocol: Protocol, history: History, settings: Settings = DEFAULT_SETTINGS) -> Plan:
    """The plan: the anchor's programme, R4 liver CTs of earlier ablations, extra exams (R9, R13)."""
    anchor = find_anchor(protocol, history.treatments)
    ended = _end_reason(protocol, history, anchor)
    if ended is not None or anchor is None:
        return Plan(protocol.code, None, (), ended)
    exams = _anchor_exams(protocol, anchor, settings)
    added = _earlier_ablation_exams(protocol, history, anchor, exams, settings)
    added += _extra_exams(protocol, history, anchor, exams + added, settings)
    exams = _coordinate(exams + added, history.primary_controls, settings)
    if added:  # the anchor's programme comes sorted by due date, then code
        exams.sort(key=lambda e: (e.due, e.code))
    return Plan(protocol.code, anchor, tuple(exams))


def _working_day(due: date, settings: Settings) -> date:
    return working_day_on_or_after(due, settings.closed_days, settings.closed_annual)


def _anchor_exams(protocol: Protocol, anchor: Treatment, settings: Settings) -> list[PlannedExam]:
    """R3, R4, R5: every exam dated from the anchor."""
    dated = _programme(
        protocol.schedules[anchor.kind], anchor.date, settings.closed_days, settings.closed_annual
    )
    # tuple.__new__ with every field: a third of the time of PlannedExam(...) with keywords.
    rest = (None, anchor, False, None)  # coordinated_with, source, extra, origin
    return [_new(PlannedExam, exam + rest) for exam in dated]


_new = tuple.__new__


@lru_cache(maxsize=16384)
def _programme(
    schedule: tuple[tuple[int, tuple[str, ...]], ...],
    start: date,
    closed_days: frozenset[date],
    closed_annual: frozenset[tuple[int, int]],
) -> tuple[tuple[str, int, date, date], ...]:
    """(code, month, due, working day) of a schedule from `start`, by due date then code.

    Cached: anchors share their dates (a clinic treats on a few hundred days a year), and
    the dates were most of a plan's cost (issue 10).
    """
    dated = []
    for month, codes in schedule:
        due = add_months(start, month)
        working_day = working_day_on_or_after(due, closed_days, closed_annual)
        dated += [(code, month, due, working_day) for code in codes]
    return tuple(dated)


def _dated(code: str, month: int, source: Treatment, settings: Settings) -> PlannedExam:
    due = add_months(source.date, month)
    return PlannedExam(code, month, due, _working_day(due, settings), source=source)


def _earlier_ablation_exams(
    protocol: Protocol,
    history: History,
    anchor: Treatment,
    planned: list[PlannedExam],
    settings: Settings,
) -> list[PlannedExam]:
    """R4 v2: an earlier ablation's exams due after the anchor's date, unless covered."""
    if len(history.treatments) < 2:  # the anchor alone: no earlier treatment to date from
        return []
    held = {(r.code, r.due) for r in history.records if r.state in _HELD}
    kept = []
    for spec in protocol.controls:
        if spec.only_after is None:
            continue
        for treatment in history.treatments:
            if treatment.kind not in spec.only_after or treatment is anchor:
                continue
            for month in spec.months:
                for code in spec.exams:
                    exam = _dated(code, month, treatment, settings)
                    if exam.due > anchor.date and (
                        (code, exam.due) in held or not _covered(exam, spec, planned)
                    ):
                        kept.append(exam)
    return _unique(kept, planned)


# A record that keeps an earlier ablation's liver CT planned although a CT covers it.
_HELD = frozenset({ExamState.BOOKED, ExamState.DONE})


def _covered(exam: PlannedExam, spec: ControlSpec, planned: list[PlannedExam]) -> bool:
    """R4: an exam of the new plan of the covering code within the cover window."""
    window = timedelta(days=spec.cover_days)
    return spec.covered_by is not None and any(
        p.code == spec.covered_by and abs(p.due - exam.due) <= window for p in planned
    )


def _unique(new: list[PlannedExam], planned: list[PlannedExam]) -> list[PlannedExam]:
    """Drop an exam of a code already planned that day (two ablations, same liver CT date)."""
    seen = {(e.code, e.due) for e in planned}
    result = []
    for exam in sorted(new, key=lambda e: (e.due, e.code, e.source.date if e.source else e.due)):
        if (exam.code, exam.due) not in seen:
            seen.add((exam.code, exam.due))
            result.append(exam)
    return result


def _extra_exams(
    protocol: Protocol,
    history: History,
    anchor: Treatment,
    planned: list[PlannedExam],
    settings: Settings,
) -> list[PlannedExam]:
    """R9, R13: extra exams after an equivocal reading or a recheck decision."""
    if not (history.records or history.primary_controls or history.decisions):
        return []  # no reading, no decision: nothing to add (most plans, at once)
    extras = [
        PlannedExam(code, None, due, _working_day(due, settings), extra=True, origin=origin)
        for code, due, origin in extra_exam_origins(protocol, history, anchor.date)
    ]
    return _unique(extras, planned) if extras else []


def _coordinate(
    exams: list[PlannedExam], controls: tuple[PrimaryControl, ...], settings: Settings
) -> list[PlannedExam]:
    """R8: pair each exam with the primary control of its code nearest its due date."""
    if not controls:
        return exams
    by_code = _controls_by_code(controls)
    window = settings.coordination_window_days
    paired = []
    for exam in exams:
        found = by_code.get(exam.code)
        partner = _nearest(found, exam.due, window) if found else None
        paired.append(exam if partner is None else exam._replace(coordinated_with=partner))
    return paired


def _controls_by_code(
    controls: tuple[PrimaryControl, ...],
) -> dict[str, tuple[list[date], list[PrimaryControl]]]:
    """Per code, the dates of the controls listing it and the controls, by date."""
    by_code: dict[str, tuple[list[date], list[PrimaryControl]]] = {}
    for control in sorted(controls, key=lambda c: c.date):
        for code in control.exams:
            dates, found = by_code.setdefault(code, ([], []))
            dates.append(control.date)
            found.append(control)
    return by_code


def _nearest(
    by_date: tuple[list[date], list[PrimaryControl]], due: date, window: int
) -> PrimaryControl | None:
    """R8: the control nearest `due` within the window; on a tie, the earlier one."""
    dates, controls = by_date
    i = bisect_left(dates, due)  # dates[i - 1] < due <= dates[i]
    best = i - 1 if i > 0 and (due - dates[i - 1]).days <= window else None
    later = dates[i] - due if i < len(dates) else None
    # Same distance: the earlier one, already chosen, stays.
    if later is not None and later.days <= window and (best is None or later < due - dates[best]):
        best = i
    return None if best is None else controls[best]


def timing_state(
    due: date, today: date, *, booked: bool = False, settings: Settings = DEFAULT_SETTINGS
) -> str:
    """R10 for an exam with no coordination and no hold: upcoming, to_book, booked or overdue."""
    if today > due + timedelta(days=settings.overdue_after_days):
        return WorkList.OVERDUE
    if booked:
        return WorkList.BOOKED
    if today < due - timedelta(days=settings.book_ahead_days):
        return WorkList.UPCOMING
    return WorkList.TO_BOOK


def needs_mdt_review(
    code: str, result: str | None, value: float | None, settings: Settings = DEFAULT_SETTINGS
) -> bool:
    """R9 (a), (b) for one result: a suspicious reading, or a CEA above the upper limit."""
    if code == "cea":
        return value is not None and value > settings.cea_upper_limit
    return result == "suspicious"
