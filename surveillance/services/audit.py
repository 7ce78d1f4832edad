"""Audit events: who did what to which patient, and when."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.engine import UNIT_OF_WORK
from ..db.models import AuditEvent

# Written at once on the session's connection, as Core. An ORM object waited for the commit's
# flush, whose machinery cost more than the insert itself: on every view of a patient, which
# writes one (issue 10).
_INSERT = sa.insert(AuditEvent)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user of the dashboard, or a command-line or scheduler process."""

    name: str
    user_id: int | None = None


def record_event(
    session: Session, actor: Actor, action: str, patient_id: int | None = None, **details
) -> None:
    """Write an audit event in the session's unit of work (never a national ID or a name).

    Only inside one (services.transactions): it commits or rolls back with what it audits."""
    if not session.info.get(UNIT_OF_WORK):
        raise RuntimeError("an audit event outside a unit of work")
    session.connection().execute(
        _INSERT,
        {
            "user_id": actor.user_id,
            "actor": actor.name,
            "action": action,
            "patient_id": patient_id,
            "details": details,
        },
    )
