"""The words the pages show for the stable codes (protocol.md's vocabulary), translated."""

from __future__ import annotations

import re
from weakref import WeakKeyDictionary

from flask import g, has_request_context
from flask_babel import get_locale, get_translations, gettext
from flask_babel import lazy_gettext as _l

from ..protocol import exam_names
from .formats import shown

LABELS = {
    # exams a primary control may list that no protocol file declares (those it declares are
    # named by the file: exam_name)
    "colonoscopy": _l("Colonoscopy"),
    "mri_pelvis": _l("MRI pelvis"),
    "mri_liver": _l("MRI liver"),
    "pet_ct": _l("PET-CT"),
    # treatments
    "resection": _l("Liver resection"),
    "ablation": _l("Ablation (RFA/MWA/IRE)"),
    "resection_with_ablation": _l("Resection + ablation"),
    "pve": _l("Portal vein embolisation"),
    "biopsy": _l("Biopsy"),
    "sbrt": _l("SBRT"),
    "lung_resection": _l("Lung resection"),
    "transplant": _l("Liver transplant"),
    # worklist lists
    "overdue": _l("Overdue"),
    "results_missing": _l("Booked, no result"),
    "to_book": _l("To book"),
    "booked": _l("Booked"),
    "mdt_review": _l("Needs MDT review"),
    "booking_to_cancel": _l("Booking to cancel"),
    "coordinated": _l("Coordinated with the primary-tumour follow-up"),
    "on_hold": _l("On hold (treatment planned)"),
    "lost_to_follow_up": _l("Lost to follow-up"),
    # exam states
    "open": _l("Open"),
    "upcoming": _l("Upcoming"),
    "done": _l("Done"),
    "missed": _l("Missed"),
    "cancelled": _l("Cancelled"),
    # patient statuses and reasons
    "active": _l("In follow-up"),
    "completed": _l("Follow-up completed"),
    "not_candidate": _l("Not a candidate for further cancer treatment"),
    "deceased": _l("Deceased"),
    "moved": _l("Moved"),
    "declined": _l("Declined further follow-up"),
    "transplanted": _l("Transplanted"),
    "superseded": _l("Superseded by a new treatment"),
    "by_clinic": _l("Cancelled by the clinic"),
    # results
    "normal": _l("Normal"),
    "suspicious": _l("Suspicious"),
    "equivocal": _l("Equivocal"),
    # MDT decisions and reasons
    "no_recurrence": _l("No recurrence"),
    "recheck": _l("Recheck"),
    "treatment_planned": _l("Treatment planned"),
    "resume": _l("Resume follow-up"),
    "ct_suspicious": _l("CT suspicious"),
    "cea_high": _l("CEA over the limit"),
    "cea_rising": _l("CEA rising"),
    "hold_lapsed": _l("Hold lapsed without treatment"),
    # daily e-mails
    "pending": _l("Waiting"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
    "skipped": _l("Nothing to say"),
    # roles
    "nurse": _l("Nurse"),
    "admin": _l("Clinic administrator"),
    "install_admin": _l("Installation administrator"),
}


# Each catalogue's words by code, with the protocol files' exam names they were made from.
_WORDS: WeakKeyDictionary = WeakKeyDictionary()


def label(code: str | None) -> str:
    """The translated word for a code; the code itself if it has none."""
    key = code or ""
    if not has_request_context():
        return exam_name(key) or str(LABELS.get(key, key))
    # Translated once per catalogue (one per language), not once a page: a page asks for a
    # few hundred labels, and each lazy text looks its locale and catalogue up (issue 10).
    words = g.get("labels")
    if words is None:
        words = g.labels = _catalogue_words()
    found = words.get(key)
    if found is None:
        word = exam_name(key) or LABELS.get(key)
        if word is None:
            return key  # no code: not kept past its request (it may be anything typed)
        found = words[key] = str(word)
    return found


def _catalogue_words() -> dict[str, str]:
    """The words of the request's catalogue, kept while the protocol files read are the same
    (set_protocol_folders reads them anew)."""
    locale = get_locale()
    names = exam_names(locale.language if locale else "nb")
    catalogue = get_translations()
    kept = _WORDS.get(catalogue)
    if kept is None or kept[0] is not names:
        kept = _WORDS[catalogue] = (names, {})
    return kept[1]


def exam_name(code: str) -> str | None:
    """An exam's name in the reader's language as the protocol file gives it (R16), or None."""
    locale = get_locale()
    return exam_names(locale.language if locale else "nb").get(code)


def is_code(word: str) -> bool:
    """Whether a word is a code the pages show in words."""
    return word in LABELS or exam_name(word) is not None


def in_words(text: str | None) -> str:
    """A stored reason ("ct_tap 2026-11-24") as a nurse reads it: codes in words, days dd.mm.åååå."""
    return " ".join(
        label(word) if is_code(word) else str(shown(word)) for word in (text or "").split(" ")
    )


FIELDS = {
    "national_id": _l("National ID"),
    "name": _l("Name"),
    "date": _l("Date"),
    "kind": _l("Kind"),
    "note": _l("Note"),
    "clinic": _l("Clinic"),
    "protocol": _l("Protocol"),
    "exams": _l("Exams"),
    "time": _l("Time"),
    "place": _l("Place"),
    "done_date": _l("Done on"),
    "result": _l("Result"),
    "value": _l("CEA value"),
    "reason": _l("Reason"),
    "contact_attempt": _l("Contact attempt"),
    "status": _l("Status"),
    "decision": _l("Decision"),
    "text": _l("Note"),
    "email": _l("E-mail"),
    "password": _l("Password"),
    "role": _l("Role"),
    "code": _l("Code"),
    "exam": _l("Exam"),
    "reference": _l("Reference"),
    "owner": _l("Controls of"),
    "label": _l("Name"),
    "recipients": _l("Recipients"),
    "category": _l("List"),
    "page": _l("Page"),
    "page_size": _l("Rows per page"),
    "confirm": _l("Confirmation"),
    "phone": _l("Telephone"),
    "gp": _l("GP"),
    "due_from": _l("Due from"),
    "due_to": _l("Due until"),
    "sort": _l("Sort order"),
    # the bulk loader's names: the CSV import shows its refusals
    "treatment date": _l("Treatment date"),
    "treatment kind": _l("Treatment"),
    "primary control exams": _l("Exams"),
    "done_before": _l("Controls done until"),
}
_ROW = re.compile(r"row (\d+)")  # bulk errors say "row 3: date"


def describe(error) -> str:
    """A refusal of the services in the reader's language: field, value, what is wrong."""
    prefix, _sep, field = error.field.rpartition(": ")
    if row := _ROW.fullmatch(prefix):
        prefix = gettext("row %(row)s", row=row[1])
    name = str(FIELDS.get(field, field))
    if error.value in (None, ""):
        text = _what_to_fill_in(name, labelled(error.params))
    else:
        problem = gettext(error.problem, **labelled(error.params))
        value = "…" if field == "password" else shown(error.value)
        text = gettext(
            "%(field)s: “%(value)s” %(problem)s", field=name, value=value, problem=problem
        )
    return f"{prefix}: {text}" if prefix else text


def _what_to_fill_in(field: str, params: dict) -> str:
    """An empty field's refusal as what to do (never Python's "None")."""
    if "choices" in params:
        return gettext("%(field)s: choose one of %(choices)s.", field=field, **params)
    return gettext("%(field)s: fill this in.", field=field)


def labelled(params: dict) -> dict:
    """A message's params with the codes among them in words ("done" → "Done", choices too)."""
    return {name: _labelled(name, value) for name, value in params.items()}


def _labelled(name: str, value):
    """A param's value; a code (or a list of choices) in words."""
    if name == "choices":
        return ", ".join(label(code) for code in value.split(", "))
    return label(value) if isinstance(value, str) and is_code(value) else shown(value)
