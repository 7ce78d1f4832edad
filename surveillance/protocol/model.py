"""The values the protocol engine works on: frozen, comparable, free of any I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class Treatment:
    """A liver treatment on a date; `ref` is the caller's handle (a row id) or None."""

    date: date
    kind: str
    ref: int | None = None


@dataclass(frozen=True, slots=True)
class PrimaryControl:
    """A control of the primary-tumour follow-up and the exam codes done that day."""

    date: date
    exams: frozenset[str]
    ref: int | None = None


@dataclass(frozen=True, slots=True)
class History:
    """What the plan depends on: eligibility, liver treatments, primary controls."""

    treatments: tuple[Treatment, ...] = ()
    primary_controls: tuple[PrimaryControl, ...] = ()
    candidate: bool = True


@dataclass(frozen=True, slots=True)
class ControlSpec:
    """One line of a protocol: these exams at these months, maybe only after some kinds."""

    months: tuple[int, ...]
    exams: tuple[str, ...]
    only_after: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Protocol:
    """A follow-up programme as loaded from its data file."""

    code: str
    title: str
    anchoring_kinds: tuple[str, ...]
    ending_kinds: frozenset[str]
    controls: tuple[ControlSpec, ...]
    # Precomputed per anchor kind: sorted (month, exam codes), so planning is a loop.
    schedules: dict[str, tuple[tuple[int, tuple[str, ...]], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """The configurable numbers of R8-R11 (defaults from protocol.md)."""

    coordination_window_days: int = 30
    book_ahead_days: int = 42
    overdue_after_days: int = 30
    cea_upper_limit: float = 5.0
    closed_days: frozenset[date] = frozenset()
    closed_annual: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True, slots=True)
class PlannedExam:
    """One exam of a plan, as the rules compute it."""

    code: str
    month: int
    due: date
    due_working_day: date
    coordinated_with: PrimaryControl | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """The plan of one patient: its anchor and its exams sorted by due date, then code."""

    protocol: str
    anchor: Treatment | None
    exams: tuple[PlannedExam, ...] = ()
