"""ServiceRequest: one planned exam, with its due date, its state and its coordination."""

from __future__ import annotations

from fhir.resources.R4B.servicerequest import ServiceRequest

from ...db.models import PlannedExam
from ..codes import (
    CEA_LOINC,
    EXAM_CODE,
    EXAM_STATE,
    EXT_BOOKED_DATE,
    EXT_CANCEL_REASON,
    EXT_COORDINATED_WITH,
    EXT_DUE_WORKING_DAY,
    EXT_EXAM_STATE,
    LOINC,
    coding,
)

# Our exam state -> the request's FHIR status. A new state is a new row.
STATUS = {
    "open": "active",
    "booked": "active",
    "missed": "active",
    "done": "completed",
    "cancelled": "revoked",
}
EXAM_NAMES = {
    "ct_tap": "CT chest/abdomen/pelvis",
    "cea": "CEA blood test",
    "ct_liver": "Liver CT",
    "ct_liver_lungs": "CT liver and lungs",
}
# Exams with a standard code besides ours.
STANDARD_CODES = {"cea": coding(LOINC, *CEA_LOINC)}


def exam_code(code: str) -> dict:
    """The CodeableConcept of an exam: ours, and LOINC where there is one."""
    codings = [coding(EXAM_CODE, code, EXAM_NAMES.get(code))]
    if code in STANDARD_CODES:
        codings.append(STANDARD_CODES[code])
    return {"coding": codings}


def service_request_resource(exam: PlannedExam) -> ServiceRequest:
    """The exam as a planned request, due on its due date, based on its plan."""
    return ServiceRequest.model_validate(
        {
            "id": str(exam.id),
            "status": STATUS.get(exam.state, "unknown"),
            "intent": "plan",
            "code": exam_code(exam.code),
            "subject": {"reference": f"Patient/{exam.patient_id}"},
            "basedOn": [{"reference": f"CarePlan/{exam.anchor_treatment_id}"}],
            "occurrenceDateTime": exam.due,
            "extension": _extensions(exam),
        }
    )


def _extensions(exam: PlannedExam) -> list[dict]:
    found: list[dict] = [
        {"url": EXT_EXAM_STATE, "valueCoding": coding(EXAM_STATE, exam.state)},
        {"url": EXT_DUE_WORKING_DAY, "valueDate": exam.due_working_day},
    ]
    for url, value in (
        (EXT_BOOKED_DATE, exam.booked_date),
        (EXT_COORDINATED_WITH, exam.coordinated_date),
    ):
        if value is not None:
            found.append({"url": url, "valueDate": value})
    if exam.cancel_reason:
        found.append({"url": EXT_CANCEL_REASON, "valueString": exam.cancel_reason})
    return found
