"""The verbs of the clinic: each one transaction with an audit event."""

from .audit import Actor
from .context import Context
from ..errors import Conflict, InputError, NotFound, ServiceError
from .exams import (
    cancel_exam,
    confirm_booking_cancelled,
    get_exam,
    record_booking,
    record_missed,
    record_result,
)
from .patients import (
    end_surveillance,
    find_by_reference,
    get_patient,
    record_mdt_decision,
    register_patient,
    resume_surveillance,
)
from .treatments import (
    correct_treatment,
    delete_treatment,
    record_primary_control,
    record_treatment,
)
from .worklist import CATEGORIES, WorklistItem, WorklistPage, worklist

__all__ = [
    "CATEGORIES",
    "Actor",
    "cancel_exam",
    "Conflict",
    "Context",
    "InputError",
    "NotFound",
    "ServiceError",
    "WorklistItem",
    "WorklistPage",
    "confirm_booking_cancelled",
    "correct_treatment",
    "delete_treatment",
    "end_surveillance",
    "find_by_reference",
    "get_exam",
    "get_patient",
    "record_booking",
    "record_mdt_decision",
    "record_missed",
    "record_primary_control",
    "record_result",
    "record_treatment",
    "register_patient",
    "resume_surveillance",
    "worklist",
]
