"""The stable codes the engine answers with: exam states, lists, flags, decisions, statuses."""

from __future__ import annotations

from enum import StrEnum


class ExamState(StrEnum):
    """What was recorded on an exam (protocol.md, preview contract)."""

    OPEN = "open"
    BOOKED = "booked"
    DONE = "done"
    MISSED = "missed"
    CANCELLED = "cancelled"


class WorkList(StrEnum):
    """R10: the list an exam is on; an exam on none has no list."""

    ON_HOLD = "on_hold"
    OVERDUE = "overdue"
    BOOKED = "booked"
    RESULTS_MISSING = "results_missing"
    COORDINATED = "coordinated"
    UPCOMING = "upcoming"
    TO_BOOK = "to_book"


class Flag(StrEnum):
    """R9, R13, R14: what a person must look at."""

    MDT_REVIEW = "mdt_review"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"
    CANCEL_BOOKING = "cancel_booking"


class MdtReason(StrEnum):
    """Why a patient is on the MDT review list (R9, R13)."""

    CT_SUSPICIOUS = "ct_suspicious"
    CEA_HIGH = "cea_high"
    CEA_RISING = "cea_rising"
    HOLD_LAPSED = "hold_lapsed"


class Decision(StrEnum):
    """R13: what the MDT decided."""

    NO_RECURRENCE = "no_recurrence"
    RECHECK = "recheck"
    TREATMENT_PLANNED = "treatment_planned"
    RESUME = "resume"
    NOT_CANDIDATE = "not_candidate"


class Status(StrEnum):
    """R15: where the patient's surveillance stands."""

    ACTIVE = "active"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    ENDED = "ended"


class EndReason(StrEnum):
    """R1, R15: why surveillance ended."""

    NOT_CANDIDATE = "not_candidate"
    TRANSPLANTED = "transplanted"
    DECEASED = "deceased"
    MOVED = "moved"
    DECLINED = "declined"


class Reading(StrEnum):
    """How imaging is read."""

    NORMAL = "normal"
    EQUIVOCAL = "equivocal"
    SUSPICIOUS = "suspicious"


class ResultKind(StrEnum):
    """What an exam's result is, as a protocol file declares it (R16)."""

    READING = "reading"
    VALUE = "value"
