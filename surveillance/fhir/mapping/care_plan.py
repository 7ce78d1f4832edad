"""CarePlan: the plan dated from one anchor treatment, one activity per planned exam."""

from __future__ import annotations

from collections.abc import Sequence

from fhir.resources.R4B.careplan import CarePlan

from ...db.models import LiverTreatment, Patient, PlannedExam
from ..codes import PROTOCOL

OPEN_STATES = frozenset({"open", "booked", "missed"})
# The patient's status -> the status of the plan still running. A new status is a new row.
RUNNING_STATUS = {
    "active": "active",
    "completed": "completed",
    "not_candidate": "revoked",
    "deceased": "revoked",
    "moved": "revoked",
    "transplanted": "revoked",
}


def care_plan_resource(
    patient: Patient, anchor: LiverTreatment, exams: Sequence[PlannedExam], latest: bool
) -> CarePlan:
    """The plan of `anchor`; an older anchor's plan was superseded (revoked)."""
    status = RUNNING_STATUS.get(patient.status, "unknown") if latest else "revoked"
    if status == "active" and not any(e.state in OPEN_STATES for e in exams):
        status = "completed"
    return CarePlan.model_validate(
        {
            "id": str(anchor.id),
            "status": status,
            "intent": "plan",
            "title": f"{patient.protocol} from {anchor.date.isoformat()}",
            "instantiatesUri": [f"{PROTOCOL}:{patient.protocol}"],
            "subject": {"reference": f"Patient/{patient.id}"},
            "period": {"start": anchor.date},
            "supportingInfo": [{"reference": f"Procedure/{anchor.id}"}],
            "activity": [{"reference": {"reference": f"ServiceRequest/{e.id}"}} for e in exams],
        }
    )
