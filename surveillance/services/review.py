"""The lists beside the worklist: MDT review, bookings to cancel, and patient search."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import NAMED, MdtDecision, Patient, PlannedExam
from .context import Context
from .name_index import SUFFIXES


@dataclass(frozen=True, slots=True)
class PatientRow:
    """A patient in a list: reference, name, birth date, status and why they are listed."""

    patient_id: int
    reference: str
    name: str
    birth_date: date
    status: str
    reason: str | None
    flagged_on: date | None = None  # the MDT list: the day of the newest flag
    last_decision: str | None = None  # and the note of the latest MDT decision
    version: int | None = None  # and the patient's version, for the decision's form


@dataclass(frozen=True, slots=True)
class CancelRow:
    """An appointment a re-plan made unnecessary: the nurse must cancel it."""

    exam_id: int
    patient_id: int
    reference: str
    name: str
    code: str
    booked_date: date | None
    version: int
    birth_date: date


_PATIENT_COLUMNS = (
    Patient.id,
    Patient.local_number,
    Patient.name,
    Patient.birth_date,
    Patient.status,
)
# The note of a patient's latest MDT decision still standing (a few rows per patient).
_LAST_NOTE = (
    sa.select(MdtDecision.note)
    .where(MdtDecision.patient_id == Patient.id, MdtDecision.withdrawn_at.is_(None))
    .order_by(MdtDecision.date.desc(), MdtDecision.id.desc())
    .limit(1)
    .correlate(Patient)
    .scalar_subquery()
    .label("last_note")
)


def mdt_review(
    session: Session, ctx: Context, clinic_ids: list[int], *, limit: int = 50, offset: int = 0
) -> list[PatientRow]:
    """Patients waiting for an MDT decision (R9), the newest flag first, a page of them."""
    rows = session.execute(
        sa.select(
            *_PATIENT_COLUMNS,
            Patient.mdt_reason,
            Patient.mdt_flagged_on,
            Patient.version,
            _LAST_NOTE,
        )
        .where(Patient.clinic_id.in_(clinic_ids), sa.text("mdt_review"))
        .order_by(Patient.mdt_flagged_on.desc().nulls_last(), Patient.local_number)
        .limit(limit)
        .offset(offset)
    )
    return [
        PatientRow(
            r.id,
            ctx.reference(r.local_number),
            r.name,
            r.birth_date,
            r.status,
            r.mdt_reason,
            r.mdt_flagged_on,
            r.last_note or None,
            r.version,
        )
        for r in rows
    ]


def lost_to_follow_up(
    session: Session, ctx: Context, clinic_ids: list[int], *, limit: int = 50, offset: int = 0
) -> list[PatientRow]:
    """Patients whose two latest controls are both overdue (R14), a page of them."""
    rows = session.execute(
        sa.select(*_PATIENT_COLUMNS)
        .where(Patient.clinic_id.in_(clinic_ids), sa.text("lost_to_follow_up"))
        .order_by(Patient.local_number)
        .limit(limit)
        .offset(offset)
    )
    return [
        PatientRow(r.id, ctx.reference(r.local_number), r.name, r.birth_date, r.status, None)
        for r in rows
    ]


def bookings_to_cancel(
    session: Session, ctx: Context, clinic_ids: list[int], *, limit: int = 50, offset: int = 0
) -> list[CancelRow]:
    """Booked exams that a re-plan or an end of surveillance cancelled, a page of them."""
    rows = session.execute(
        sa.select(
            PlannedExam.id,
            PlannedExam.patient_id,
            Patient.local_number,
            Patient.name,
            PlannedExam.code,
            PlannedExam.booked_date,
            PlannedExam.version,
            Patient.birth_date,
        )
        .join(Patient, Patient.id == PlannedExam.patient_id)
        .where(PlannedExam.clinic_id.in_(clinic_ids), sa.text("booking_to_cancel"))
        .order_by(PlannedExam.booked_date, Patient.local_number, PlannedExam.code)
        .limit(limit)
        .offset(offset)
    )
    return [
        CancelRow(
            r.id,
            r.patient_id,
            ctx.reference(r.local_number),
            r.name,
            r.code,
            r.booked_date,
            r.version,
            r.birth_date,
        )
        for r in rows
    ]


# Index rows of one clinic a search reads before it takes its text for a common one. Up to
# this many, the first page is sorted from the range of the suffixes (the index holds the
# sort keys): O(rows in range). Past it, the matches are many (at least this many / the
# times the text is in one name), and walking the clinic's patients in the results' order
# finds a page sooner: O(page x patients / matches) when the matches are spread over the
# alphabet, at worst a walk of the clinic's name index (matches all at its end).
# At 100,000 patients either way takes a few milliseconds.
SPARSE = 10_000


def search_patients(
    session: Session, ctx: Context, clinic_ids: list[int], text: str, limit: int = 50
) -> list[PatientRow]:
    """Patients whose name, local reference or national ID matches `text`.

    The name matches when it holds the text case-folded, anywhere (issue 10: through an
    index, never a scan of the clinic's patients); the first `limit` by name, then reference.
    """
    text = text.strip()
    digits = text.removeprefix(ctx.reference_prefix).replace(" ", "")
    key = text.casefold()
    found: list[sa.Select] = [
        query for clinic_id in clinic_ids for query in _by_name(session, clinic_id, key, limit)
    ]
    if digits.isascii() and digits.isdigit():  # "²" is a digit int() refuses
        found.append(_patient_ids(clinic_ids).where(Patient.national_id == digits))
        if len(digits) <= 9:
            found.append(_patient_ids(clinic_ids).where(Patient.local_number == int(digits)))
    if not found:
        return []
    rows = session.execute(search_query(found, limit))
    return [
        PatientRow(
            r.id, ctx.reference(r.local_number), r.name, r.birth_date, r.status, r.status_reason
        )
        for r in rows
    ]


def search_query(found: list[sa.Select], limit: int) -> sa.Select:
    """The first `limit` patients, by name then reference, of the ids the queries found.

    The ids are few (each query is limited, or its range was counted), so the patients are
    read by key and sorted. Nothing here may let the planner walk the clinic's patients in
    an index's order instead, testing each against the ids (SQLite did, with no statistics
    to tell it how few they are): no clinic condition (each query has it), and the name
    sorted as an expression no index holds (the same order).
    """
    return (
        sa.select(*_PATIENT_COLUMNS, Patient.status_reason)
        .where(Patient.id.in_(sa.union(*found)))
        .order_by(Patient.name.concat(""), Patient.local_number)
        .limit(limit)
    )


def _by_name(session: Session, clinic_id: int, key: str, limit: int) -> list[sa.Select]:
    """The query of a clinic's patients whose name key holds `key`: through the suffixes when
    they are few, else the clinic's first `limit` by name, walked in the index's order."""
    if key and session.scalar(suffix_count_query(clinic_id, key)) < SPARSE:
        return [suffix_query(clinic_id, key, limit)]
    return [name_walk_query(clinic_id, key, limit)]


def suffix_count_query(clinic_id: int, key: str) -> sa.Select:
    """How many of the clinic's suffixes begin with `key`, counted up to SPARSE."""
    return sa.select(sa.func.count()).select_from(
        _suffix_range(sa.select(sa.literal(1)), clinic_id, key).limit(SPARSE).subquery()
    )


def suffix_query(clinic_id: int, key: str, limit: int) -> sa.Select:
    """The clinic's first `limit` patients by name with a suffix of their name key beginning
    with `key`, read from the suffixes' index alone."""
    columns = (SUFFIXES.c.patient_id, SUFFIXES.c.name, SUFFIXES.c.local_number)
    first = (
        _suffix_range(sa.select(*columns).distinct(), clinic_id, key)
        .order_by(SUFFIXES.c.name, SUFFIXES.c.local_number)
        .limit(limit)
        .subquery()
    )
    return sa.select(first.c.patient_id)


def name_walk_query(clinic_id: int, key: str, limit: int) -> sa.Select:
    """The clinic's first `limit` patients by name whose name key holds `key`: a walk of
    ix_patients_clinic_name (whose condition a text holds: the name key is not empty)."""
    query = sa.select(Patient.id).where(
        Patient.clinic_id == clinic_id, Patient.name_key.contains(key, autoescape=True)
    )
    if key:
        query = query.where(NAMED)
    first = query.order_by(Patient.name, Patient.local_number).limit(limit).subquery()
    return sa.select(first.c.id)


def _suffix_range(query: sa.Select, clinic_id: int, key: str) -> sa.Select:
    """The strings beginning with `key` are those from `key` to the next string after them
    all (in code point order, as both databases compare the suffixes)."""
    query = query.where(SUFFIXES.c.clinic_id == clinic_id, SUFFIXES.c.suffix >= key)
    if (after := after_prefix(key)) is not None:
        query = query.where(SUFFIXES.c.suffix < after)
    return query


def after_prefix(key: str) -> str | None:
    """The least string after every string beginning with `key`; None if there is none."""
    stem = key.rstrip(chr(sys.maxunicode))
    if not stem:
        return None
    following = ord(stem[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no characters: UTF-8 skips them
        following = 0xE000
    return stem[:-1] + chr(following)


def _patient_ids(clinic_ids: list[int]) -> sa.Select:
    return sa.select(Patient.id).where(Patient.clinic_id.in_(clinic_ids))
