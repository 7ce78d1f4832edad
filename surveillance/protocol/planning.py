"""The plan of protocol.md v2 (R1-R6, R8, R11) as a function of the facts and a protocol."""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, timedelta

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
    if not history.candidate:
        return history.end_reason or EndReason.NOT_CANDIDATE
    anchor = find_anchor(protocol, history.treatments)
    ending = [t for t in history.treatments if t.kind in protocol.ending_kinds]
    if ending and (anchor is None or has_ended(protocol, history.treatments, anchor)):
        return EndReason.TRANSPLANTED
    refusals = [d for d in history.decisions if d.decision == Decision.NOT_CANDIDATE]
    latest = max(history.decisions, key=lambda d: d.date, default=None)
    # An anchoring treatment after the decision starts a new plan (as after a transplant).
    if (
        refusals
        and latest is not None
        and latest.decision == Decision.NOT_CANDIDATE
        and (anchor is None or anchor.date <= latest.date)
    ):
        return EndReason.NOT_CANDIDATE
    return None


def make_plan(protocol: Protocol, history: History, settings: Settings = DEFAULT_SETTINGS) -> Plan:
    """The plan: the anchor's programme, R4 liver CTs of earlier ablations, extra exams (R9, R13)."""
    ended = end_reason(protocol, history)
    anchor = find_anchor(protocol, history.treatments)
    if ended is not None or anchor is None:
        return Plan(protocol.code, None, (), ended)
    exams = _anchor_exams(protocol, anchor, settings)
    exams += _earlier_ablation_exams(protocol, history, anchor, exams, settings)
    exams += _extra_exams(protocol, history, anchor, exams, settings)
    coordinated = _coordinate(exams, history.primary_controls, settings)
    return Plan(protocol.code, anchor, tuple(sorted(coordinated, key=lambda e: (e.due, e.code))))


def _dated(code: str, month: int, source: Treatment, settings: Settings) -> PlannedExam:
    due = add_months(source.date, month)
    return PlannedExam(code, month, due, _working_day(due, settings), source=source)


def _working_day(due: date, settings: Settings) -> date:
    return working_day_on_or_after(due, settings.closed_days, settings.closed_annual)


def _anchor_exams(protocol: Protocol, anchor: Treatment, settings: Settings) -> list[PlannedExam]:
    """R3, R4, R5: every exam dated from the anchor."""
    return [
        _dated(code, month, anchor, settings)
        for month, codes in protocol.schedules[anchor.kind]
        for code in codes
    ]


def _earlier_ablation_exams(
    protocol: Protocol,
    history: History,
    anchor: Treatment,
    planned: list[PlannedExam],
    settings: Settings,
) -> list[PlannedExam]:
    """R4 v2: an earlier ablation's exams due after the anchor's date, unless covered."""
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
    extras = [
        PlannedExam(code, None, due, _working_day(due, settings), extra=True, origin=origin)
        for code, due, origin in extra_exam_origins(protocol, history, anchor.date)
    ]
    return _unique(extras, planned)


def _coordinate(
    exams: list[PlannedExam], controls: tuple[PrimaryControl, ...], settings: Settings
) -> list[PlannedExam]:
    """R8: pair each exam with the primary control of its code nearest its due date."""
    if not controls:
        return exams
    by_code = _controls_by_code(controls)
    window = settings.coordination_window_days
    return [_with_partner(e, _nearest(by_code.get(e.code), e.due, window)) for e in exams]


def _with_partner(exam: PlannedExam, partner: PrimaryControl | None) -> PlannedExam:
    return PlannedExam(
        exam.code,
        exam.month,
        exam.due,
        exam.due_working_day,
        partner,
        exam.source,
        exam.extra,
        exam.origin,
    )


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
