"""What administrators oversee within their scope: the audit log and the daily e-mails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import AuditEvent, Digest, Patient, user_clinics
from ..reminders import outbox
from .accounts import Admin
from .audit import record_event
from .transactions import transaction

VIEWS = ("patient.view", "patient.reveal_id")


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of the audit log: rows of (event, local number), and how many in all."""

    rows: list
    total: int


def audit_log(
    session: Session,
    admin: Admin,
    *,
    patient_id: int | None,
    email: str | None,
    page: int,
    page_size: int,
) -> AuditPage:
    """Audit events in the administrator's scope, newest first, maybe of a patient or a user."""
    query = sa.select(AuditEvent, Patient.local_number).outerjoin(
        Patient, Patient.id == AuditEvent.patient_id
    )
    if admin.clinic_ids is not None:
        query = query.where(_in_scope(admin.clinic_ids))
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    if email:
        query = query.where(AuditEvent.actor == email)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    ordered = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    rows = session.execute(ordered.limit(page_size).offset((page - 1) * page_size)).all()
    return AuditPage(list(rows), total or 0)


def _in_scope(clinic_ids: frozenset[int]):
    """An event about a patient of these clinics, or, without a patient, by one of their users."""
    ids = sorted(clinic_ids)
    by_their_user = sa.exists().where(
        user_clinics.c.user_id == AuditEvent.user_id, user_clinics.c.clinic_id.in_(ids)
    )
    return sa.or_(
        Patient.clinic_id.in_(ids), sa.and_(AuditEvent.patient_id.is_(None), by_their_user)
    )


def viewers(session: Session, patient_id: int) -> list:
    """Who has seen the patient's record, and when last: for the patient's right of access."""
    last = sa.func.max(AuditEvent.at)
    query = (
        sa.select(AuditEvent.actor, sa.func.count(), sa.func.min(AuditEvent.at), last)
        .where(AuditEvent.patient_id == patient_id, AuditEvent.action.in_(VIEWS))
        .group_by(AuditEvent.actor)
        .order_by(last.desc())
    )
    return list(session.execute(query).all())


def recent_digests(session: Session, admin: Admin, since: date) -> list[Digest]:
    """The daily e-mails of the administrator's clinics from `since` on, newest first."""
    return outbox.recent(session, since, admin.clinic_ids)


def retry_failed_digests(session: Session, admin: Admin, today: date, now: datetime) -> int:
    """Today's failed e-mails of the administrator's clinics go out again; how many."""
    with transaction(session):
        count = outbox.retry_failed(session, today, now, admin.clinic_ids)
        record_event(session, admin.actor, "digest.retry", None, count=count)
    return count


def failed_digest_count(session: Session, admin: Admin, since: date) -> int:
    """Failed e-mails of the administrator's clinics from `since` on, for their warning."""
    query = sa.select(sa.func.count()).select_from(Digest)
    query = query.where(Digest.state == "failed", Digest.day >= since)
    if admin.clinic_ids is not None:
        query = query.where(Digest.clinic_id.in_(sorted(admin.clinic_ids)))
    return session.scalar(query) or 0
