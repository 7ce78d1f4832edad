"""Flag: the patient's MDT review and lost to follow-up, with reasons. A new flag is a new
row of FLAGS."""

from __future__ import annotations

from collections.abc import Callable

from fhir.resources.R4B.flag import Flag

from ...db.models import Patient
from ..codes import FLAG, coding

# flag code -> (English name, is it raised, its reason)
FLAGS: dict[str, tuple[str, Callable[[Patient], bool], Callable[[Patient], str | None]]] = {
    "mdt_review": ("Needs MDT review", lambda p: p.mdt_review, lambda p: p.mdt_reason),
    # R14 has one reason: the engine raises it for nothing else.
    "lost_to_follow_up": (
        "Lost to follow-up",
        lambda p: p.lost_to_follow_up,
        lambda _p: LOST_REASON,
    ),
}
LOST_REASON = "The two latest controls whose window has closed each have an exam overdue (R14)"


def raised_flags(patient: Patient) -> list[str]:
    """The codes of the patient's raised flags."""
    return [code for code, (_name, raised, _reason) in FLAGS.items() if raised(patient)]


def flag_id(code: str, patient_id: int) -> str:
    """A flag's id: its code and the patient's id ("mdt-review-12")."""
    return f"{code.replace('_', '-')}-{patient_id}"


def flag_resource(patient: Patient, code: str) -> Flag:
    """A raised flag; its reason is the code's text."""
    name, _raised, reason = FLAGS[code]
    return Flag.model_validate(
        {
            "id": flag_id(code, patient.id),
            "status": "active",
            "code": {"coding": [coding(FLAG, code, name)], "text": reason(patient) or name},
            "subject": {"reference": f"Patient/{patient.id}"},
        }
    )
