"""What a digest is made of, read from the worklist: the counts, and references if opted in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..config import Config
from ..db.models import Clinic, Patient, PlannedExam
from ..services import Actor, Context, worklist
from ..services.worklist import CATEGORIES
from .digest import ACTIONS, WAITING

ACTOR = Actor("reminders")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A clinic's worklist on a day: the count of each list; local references or None."""

    counts: dict[str, int]
    references: dict[str, list[str]] | None


def take_snapshot(session: Session, config: Config, clinic: Clinic, today: date) -> Snapshot:
    """The counts exactly as the worklist shows them; references only if the clinic opted in."""
    ctx = Context.from_config(config, ACTOR, today)
    counts = dict(worklist(session, ctx, [clinic.id], page_size=1).counts)
    if not clinic.digest_include_references:
        return Snapshot(counts, None)
    return Snapshot(counts, _references(session, ctx, clinic.id, counts))


def _references(
    session: Session, ctx: Context, clinic_id: int, counts: dict[str, int]
) -> dict[str, list[str]]:
    size = max(1, sum(counts[c] for c in CATEGORIES))
    found: dict[str, list[str]] = {action: [] for action in ACTIONS + WAITING}
    for item in worklist(session, ctx, [clinic_id], page_size=size).items:
        if item.category in found and item.reference not in found[item.category]:
            found[item.category].append(item.reference)
    found["mdt_review"] = _numbered(
        session,
        ctx,
        sa.select(Patient.local_number).where(
            Patient.clinic_id == clinic_id, sa.text("mdt_review")
        ),
    )
    found["booking_to_cancel"] = _numbered(
        session,
        ctx,
        sa.select(Patient.local_number)
        .join(PlannedExam, PlannedExam.patient_id == Patient.id)
        .where(PlannedExam.clinic_id == clinic_id, sa.text("booking_to_cancel")),
    )
    found["lost_to_follow_up"] = _numbered(
        session,
        ctx,
        sa.select(Patient.local_number).where(
            Patient.clinic_id == clinic_id, Patient.lost_to_follow_up
        ),
    )
    return found


def _numbered(session: Session, ctx: Context, query) -> list[str]:
    numbers = session.scalars(query.distinct().order_by(Patient.local_number))
    return [ctx.reference(number) for number in numbers]
