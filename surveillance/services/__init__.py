"""The verbs of the clinic: each one transaction with an audit event."""

from ..errors import Conflict, InputError, NotFound, ServiceError
from .audit import Actor
from .context import Context
from .controls import (
    correct_primary_control,
    delete_primary_control,
    record_control_results,
    record_primary_control,
)
from .corrections import (
    correct_result,
    withdraw,
    withdraw_booking,
    withdraw_cancellation,
    withdraw_missed,
    withdraw_result,
)
from .decisions import record_decision, record_measurement, withdraw_decision, withdraw_measurement
from .exams import (
    cancel_exam,
    confirm_booking_cancelled,
    get_exam,
    record_booking,
    record_missed,
    record_result,
)
from .lookups import find_by_reference, get_patient
from .patients import (
    end_surveillance,
    record_mdt_decision,
    register_patient,
    resume_surveillance,
    update_contact,
)
from .treatments import (
    correct_treatment,
    delete_treatment,
    record_treatment,
)
from .worklist import CATEGORIES, WorklistItem, WorklistPage, worklist

__all__ = [
    "CATEGORIES",
    "Actor",
    "Conflict",
    "Context",
    "InputError",
    "NotFound",
    "ServiceError",
    "WorklistItem",
    "WorklistPage",
    "cancel_exam",
    "confirm_booking_cancelled",
    "correct_primary_control",
    "correct_result",
    "correct_treatment",
    "delete_primary_control",
    "delete_treatment",
    "end_surveillance",
    "find_by_reference",
    "get_exam",
    "get_patient",
    "record_booking",
    "record_control_results",
    "record_decision",
    "record_mdt_decision",
    "record_measurement",
    "record_missed",
    "record_primary_control",
    "record_result",
    "record_treatment",
    "register_patient",
    "resume_surveillance",
    "update_contact",
    "withdraw",
    "withdraw_booking",
    "withdraw_cancellation",
    "withdraw_decision",
    "withdraw_measurement",
    "withdraw_missed",
    "withdraw_result",
    "worklist",
]
