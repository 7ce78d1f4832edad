"""Observation: a done exam's result, a CEA value (LOINC, UCUM) or a CT reading."""

from __future__ import annotations

from fhir.resources.R4B.observation import Observation

from ...db.models import PlannedExam
from ..codes import CEA_UNIT, INTERPRETATION, READING, UCUM, Site, coding
from .service_request import exam_code

READING_NAMES = {"normal": "Normal", "equivocal": "Equivocal", "suspicious": "Suspicious"}


def has_result(exam: PlannedExam) -> bool:
    """Is there a result to show: a done exam with a value or a reading."""
    return exam.state == "done" and (exam.result is not None or exam.result_value is not None)


def observation_resource(exam: PlannedExam, site: Site) -> Observation:
    """The result of a done exam, based on its request."""
    return Observation.model_validate(
        dict(
            id=str(exam.id),
            status="final",
            code=exam_code(exam.code),
            subject={"reference": f"Patient/{exam.patient_id}"},
            basedOn=[{"reference": f"ServiceRequest/{exam.id}"}],
            effectiveDateTime=exam.done_date,
            **(
                _value(exam.result_value, site)
                if exam.result_value is not None
                else _reading(exam.result or "")
            ),
        )
    )


def _value(value: float, site: Site) -> dict:
    limit = site.cea_upper_limit
    return {
        "valueQuantity": _quantity(value),
        "referenceRange": [{"high": _quantity(limit)}],
        "interpretation": [{"coding": [coding(INTERPRETATION, "H" if value > limit else "N")]}],
    }


def _quantity(value: float) -> dict:
    return {"value": value, "unit": "µg/L", "system": UCUM, "code": CEA_UNIT}


def _reading(reading: str) -> dict:
    return {
        "valueCodeableConcept": {"coding": [coding(READING, reading, READING_NAMES.get(reading))]}
    }
