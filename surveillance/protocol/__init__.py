"""The pure protocol engine: history + protocol (+ today) -> plan. No I/O, no clock."""

from .calendar import add_months, is_working_day, working_day_on_or_after
from .loader import DEFAULT_PROTOCOL, ProtocolError, available_protocols, load_protocol
from .model import History, Plan, PlannedExam, PrimaryControl, Protocol, Settings, Treatment
from .planning import find_anchor, make_plan, needs_mdt_review, timing_state
from .replan import Changes, StoredExam, reconcile

__all__ = [
    "DEFAULT_PROTOCOL",
    "Changes",
    "History",
    "Plan",
    "PlannedExam",
    "PrimaryControl",
    "Protocol",
    "ProtocolError",
    "Settings",
    "StoredExam",
    "Treatment",
    "add_months",
    "available_protocols",
    "find_anchor",
    "is_working_day",
    "load_protocol",
    "make_plan",
    "needs_mdt_review",
    "reconcile",
    "timing_state",
    "working_day_on_or_after",
]
