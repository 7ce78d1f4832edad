"""The values the protocol engine works on: frozen, comparable, free of any I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from .states import Decision, EndReason, ExamState, Flag, MdtReason, ResultKind, Status, WorkList

# For fields declared after a field named `date`, which shadows the type in a class body.
Day = date

# A result as recorded: a reading ("normal", "equivocal", "suspicious") or a value.
ResultValue = str | float


@dataclass(frozen=True, slots=True)
class Treatment:
    """A liver treatment on a date; `ref` is the caller's handle (a row id) or None."""

    date: date
    kind: str
    ref: int | None = None


@dataclass(frozen=True, slots=True)
class PrimaryControl:
    """A control of the primary-tumour follow-up: planned, or done with results (R8)."""

    date: date
    exams: frozenset[str]
    ref: int | None = None
    done: bool = False
    results: tuple[tuple[str, ResultValue], ...] = ()

    def result_for(self, code: str) -> ResultValue | None:
        """The result recorded for `code` at this control, if done and recorded."""
        return next((r for c, r in self.results if c == code), None) if self.done else None


@dataclass(frozen=True, slots=True)
class ExamRecord:
    """What was recorded on one exam, named by code and due date, as it stands now."""

    code: str
    due: date
    booked: date | None = None
    done: date | None = None
    result: ResultValue | None = None
    missed: date | None = None
    cancelled: date | None = None
    reason: str | None = None
    ref: int | None = None

    @property
    def state(self) -> ExamState:
        """Done, else cancelled, else booked if booked after the miss, else missed, else open."""
        if self.done is not None:
            return ExamState.DONE
        if self.cancelled is not None:
            return ExamState.CANCELLED
        if self.booked is not None and (self.missed is None or self.booked > self.missed):
            return ExamState.BOOKED
        return ExamState.MISSED if self.missed is not None else ExamState.OPEN


@dataclass(frozen=True, slots=True)
class Measurement:
    """A value measured outside any control (an extra CEA)."""

    date: date
    code: str
    value: float


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """An MDT decision (R13); `recheck` names the exam and its due date."""

    date: date
    decision: Decision
    note: str = ""
    exam: str | None = None
    due: Day | None = None
    ref: int | None = None


@dataclass(frozen=True, slots=True)
class History:
    """Every fact the answer depends on: treatments, controls, records, values, decisions."""

    treatments: tuple[Treatment, ...] = ()
    primary_controls: tuple[PrimaryControl, ...] = ()
    candidate: bool = True
    records: tuple[ExamRecord, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    decisions: tuple[DecisionRecord, ...] = ()
    # Why a non-candidate ended (R15); None means "not_candidate".
    end_reason: EndReason | None = None


@dataclass(frozen=True, slots=True)
class ExamSpec:
    """An exam code a protocol declares (R16): names, result kind, unit, limit, trend."""

    code: str
    name_nb: str
    name_en: str
    result: ResultKind
    unit: str = ""
    upper_limit: float | None = None
    # R9 (c): rises in a row, factor over the lowest, least rise over the lowest.
    trend_rises: int | None = None
    trend_factor: float = 1.3
    trend_min_rise: float = 1.0


@dataclass(frozen=True, slots=True)
class ControlSpec:
    """One line of a protocol: these exams at these months, maybe only after some kinds.

    A line with `only_after` is dated from each treatment of those kinds (R4), not only
    from the anchor; `covered_by` names the exam of the new plan that covers it within
    `cover_days`.
    """

    months: tuple[int, ...]
    exams: tuple[str, ...]
    only_after: frozenset[str] | None = None
    covered_by: str | None = None
    cover_days: int = 30


@dataclass(frozen=True, slots=True)
class Protocol:
    """A follow-up programme as loaded from its data file."""

    code: str
    title: str
    anchoring_kinds: tuple[str, ...]
    ending_kinds: frozenset[str]
    controls: tuple[ControlSpec, ...]
    exams: dict[str, ExamSpec] = field(default_factory=dict, compare=False, hash=False)
    # Codes a primary control may report that match no exam of ours (a colonoscopy).
    other_primary_exams: frozenset[str] = frozenset()
    extra_exam_days: int = 56
    hold_days: int = 90
    # Precomputed per anchor kind: sorted (month, exam codes), so planning is a loop.
    schedules: dict[str, tuple[tuple[int, tuple[str, ...]], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def primary_exams(self) -> frozenset[str]:
        """Every code a primary control may list."""
        return frozenset(self.exams) | self.other_primary_exams


@dataclass(frozen=True, slots=True)
class Settings:
    """The configurable numbers of R8-R11 (defaults from protocol.md)."""

    coordination_window_days: int = 30
    book_ahead_days: int = 42
    overdue_after_days: int = 30
    cea_upper_limit: float = 5.0
    closed_days: frozenset[date] = frozenset()
    closed_annual: frozenset[tuple[int, int]] = frozenset()


class PlannedExam(NamedTuple):
    """One exam of a plan, as the rules compute it.

    `source` is the treatment it is dated from (the anchor, or an earlier ablation R4
    keeps); an extra exam has no month and `origin` is the result or decision date.
    A named tuple, not a frozen dataclass: as immutable, and made in a fifth of the time
    (a plan makes 16 of them; with a dataclass they were most of `make_plan`, issue 10).
    """

    code: str
    month: int | None
    due: date
    due_working_day: date
    coordinated_with: PrimaryControl | None = None
    source: Treatment | None = None
    extra: bool = False
    origin: date | None = None

    @property
    def dated_from(self) -> date | None:
        """The date the due date counts from (`from` in the preview)."""
        return self.origin if self.extra else (self.source.date if self.source else None)


@dataclass(frozen=True, slots=True)
class Plan:
    """The plan of one patient: its anchor and its exams sorted by due date, then code."""

    protocol: str
    anchor: Treatment | None
    exams: tuple[PlannedExam, ...] = ()
    # Ended (R1, R15) although a plan could have been made; None while candidate.
    ended: EndReason | None = None


@dataclass(frozen=True, slots=True)
class ExamAnswer:
    """One exam of the plan as it stands today: its state, list and result."""

    planned: PlannedExam
    state: ExamState
    list: WorkList | None
    record: ExamRecord | None = None
    done_on: date | None = None
    result: ResultValue | None = None


@dataclass(frozen=True, slots=True)
class FlagAnswer:
    """A flag (R9, R13, R14); `values` carries the CEA trend or the value for the reason."""

    flag: Flag
    date: date | None = None
    reason: MdtReason | None = None
    exam: str | None = None
    due: Day | None = None
    values: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Control:
    """The exams of one plan due on the same day: the unit a nurse works with."""

    due: date
    exams: tuple[ExamAnswer, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """The engine's whole answer for one patient today: plan, states, lists, flags, status."""

    plan: Plan
    today: date
    exams: tuple[ExamAnswer, ...]
    flags: tuple[FlagAnswer, ...]
    status: Status | None
    status_reason: EndReason | None = None
    hold_until: date | None = None

    @property
    def controls(self) -> tuple[Control, ...]:
        """The exams grouped by due date, in order (issue 10 stores one row per control)."""
        by_due: dict[date, list[ExamAnswer]] = {}
        for exam in self.exams:
            by_due.setdefault(exam.planned.due, []).append(exam)
        return tuple(Control(due, tuple(exams)) for due, exams in by_due.items())
