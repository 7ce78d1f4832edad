"""Audit events: who did what to which patient, and when."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..db.models import AuditEvent


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user of the dashboard, or a command-line or scheduler process."""

    name: str
    user_id: int | None = None


def record_event(
    session: Session, actor: Actor, action: str, patient_id: int | None = None, **details
) -> None:
    """Add an audit event to the session's transaction (never a national ID or a name)."""
    session.add(
        AuditEvent(
            user_id=actor.user_id,
            actor=actor.name,
            action=action,
            patient_id=patient_id,
            details=details,
        )
    )
