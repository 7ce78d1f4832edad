"""R6: turn a newly computed plan into changes to the stored one, never touching done exams."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .model import Plan, PlannedExam

OPEN_STATES = frozenset({"open", "booked"})
# Kept as recorded while the plan keeps them. R6 cancels "every exam that is not done":
# a missed exam of a superseded plan is cancelled too, or it would wait for a rebooking
# that no longer makes sense.
RECORDED_STATES = frozenset({"done", "missed"})
CANCELLABLE_STATES = frozenset({"open", "booked", "missed"})
# Cancellations the program made on its own, undone when the plan comes back
# (a corrected treatment date, a resumed patient). A nurse's own cancellation stays.
AUTOMATIC_CANCEL_REASONS = frozenset(
    {"superseded", "not_candidate", "deceased", "moved", "declined", "transplanted"}
)


@dataclass(frozen=True, slots=True)
class StoredExam:
    """What reconciliation needs to know of a planned exam already in the database."""

    ref: int
    anchor_ref: int | None
    code: str
    month: int | None  # None: an extra exam (R9, R13), known by its code and due date
    due: date
    due_working_day: date
    state: str
    coordinated_ref: int | None = None
    cancel_reason: str | None = None

    @property
    def key(self) -> tuple:
        """The stable identity of design.md: anchor treatment, code, month (extra: code, due)."""
        if self.month is None:
            return ("extra", self.code, self.due)
        return (self.anchor_ref, self.code, self.month)


@dataclass(frozen=True, slots=True)
class Changes:
    """What to write: exams to create, to cancel (and whether booked), and to bring up to date."""

    create: tuple[PlannedExam, ...] = ()
    cancel: tuple[StoredExam, ...] = ()
    update: tuple[tuple[StoredExam, PlannedExam], ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.create or self.cancel or self.update)


def reconcile(stored: list[StoredExam], plan: Plan) -> Changes:
    """Compare the stored exams with `plan`; a done exam is never in the result."""
    wanted = {plan_key(e): e for e in plan.exams}
    cancel, update = [], []
    for exam in stored:
        planned = wanted.pop(exam.key, None)
        if planned is None:
            if exam.state in CANCELLABLE_STATES:
                cancel.append(exam)
        elif exam.state in RECORDED_STATES:
            continue
        elif exam.state == "cancelled":
            if exam.cancel_reason in AUTOMATIC_CANCEL_REASONS:
                update.append((exam, planned))
        elif _differs(exam, planned):
            update.append((exam, planned))
    return Changes(tuple(wanted.values()), tuple(cancel), tuple(update))


def plan_key(exam: PlannedExam) -> tuple:
    """The stored identity of a planned exam: the treatment it is dated from, code, month."""
    if exam.extra:
        return ("extra", exam.code, exam.due)
    return (exam.source.ref if exam.source else None, exam.code, exam.month)


def _differs(exam: StoredExam, planned: PlannedExam) -> bool:
    partner = planned.coordinated_with.ref if planned.coordinated_with else None
    # A booked exam keeps its booking: coordination only spares exams not yet booked.
    coordination_changed = exam.state == "open" and exam.coordinated_ref != partner
    return (exam.due, exam.due_working_day) != (planned.due, planned.due_working_day) or (
        coordination_changed
    )
