"""The audit log in words: what each recorded action means, and its details readable."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .formats import shown
from .labels import FIELDS, is_code, label

ACTIONS = {
    "login": _l("Logged in"),
    "login.failed": _l("Failed login"),
    "logout": _l("Logged out"),
    "patient.view": _l("Opened the patient's page"),
    "patient.reveal_id": _l("Showed the national ID"),
    "patient.register": _l("Registered the patient"),
    "patient.bulk_load": _l("Loaded patients in bulk"),
    "patient.end": _l("Ended surveillance"),
    "patient.resume": _l("Resumed surveillance"),
    "patient.note": _l("Added a note"),
    "patient.mdt_decision": _l("Recorded the MDT decision"),
    "patient.contact": _l("Changed the telephone or GP"),
    "patient.rename": _l("Corrected the name"),
    "treatment.record": _l("Recorded a liver treatment"),
    "treatment.correct": _l("Corrected a liver treatment"),
    "treatment.delete": _l("Deleted a liver treatment"),
    "primary_control.record": _l("Registered a primary-tumour control"),
    "exam.book": _l("Booked an exam"),
    "exam.result": _l("Recorded a result"),
    "exam.missed": _l("Marked an exam missed"),
    "exam.cancel": _l("Cancelled an exam"),
    "exam.booking_cancelled": _l("Confirmed a booking cancelled"),
    "user.add": _l("Created an account"),
    "user.enable": _l("Enabled an account"),
    "user.disable": _l("Disabled an account"),
    "user.digest_opt_in": _l("Changed who gets the daily e-mail"),
    "clinic.add": _l("Created a clinic"),
    "clinic.digest": _l("Changed the clinic's daily e-mail"),
    "clinic.feed_details": _l("Changed what the calendar feeds show"),
    "digest.retry": _l("Sent a failed daily e-mail again"),
    "feed.create": _l("Created a calendar feed"),
    "feed.revoke": _l("Revoked a calendar feed"),
    "api_token.create": _l("Created an API token"),
    "api_token.revoke": _l("Revoked an API token"),
    "fhir.export": _l("Exported FHIR resources"),
    "fhir.export_bundle": _l("Exported a FHIR bundle"),
    "worklist.export": _l("Exported a list"),
}
DETAILS = {
    "before": _l("Before"),
    "after": _l("After"),
    "cancelled": _l("Exams cancelled"),
    "clinics": _l("Clinics"),
    "updated": _l("Exams changed"),
    "control": _l("Control"),
    "created": _l("Exams planned"),
    "mdt_review": _l("MDT review"),
    "patients": _l("Patients"),
    "pseudonymised": _l("Pseudonymised"),
    "reopened": _l("Reopened"),
    "rows": _l("Rows"),
    "list": _l("List"),
    "sessions_ended": _l("Sessions ended"),
    "treatment": _l("Treatment"),
    "user": _l("User"),
    "user_id": _l("User"),
}


def action_words(action: str) -> str:
    """What the action did, in the reader's language (the code itself if new)."""
    return str(ACTIONS.get(action, action))


def detail_words(details: dict | None) -> str:
    """The details as "Name: value" pairs, codes in words and days as dd.mm.åååå."""
    return "; ".join(f"{_key(key)}: {_value(value)}" for key, value in (details or {}).items())


def _hidden(key: str, value) -> str:
    """A hidden value as "(given)" or a dash: the page says what changed, not to what."""
    if key not in HIDDEN:
        return ""
    return str(_l("(given)")) if value else NOTHING


def _key(key: str) -> str:
    return str(DETAILS.get(key) or FIELDS.get(key) or key)


# Contact details are kept in the audit (old and new) but not shown: as private as the name.
HIDDEN = frozenset({"phone", "gp"})
NOTHING = "\u2013"  # an en dash: no value


def _value(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{_key(k)} {_hidden(k, v) or _value(v)}" for k, v in value.items())
    if value is None:
        return NOTHING
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, bool):
        return str(_l("yes") if value else _l("no"))
    if isinstance(value, str) and is_code(value):
        return label(value)
    return str(shown(value))
