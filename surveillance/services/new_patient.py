"""What a new patient must be, checked one way for the form, the bulk loader and the CSV import."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import Patient
from ..errors import InputError
from ..identity import parse_national_id
from ..protocol import available_protocols
from .context import Context
from .validate import parse_choice, parse_text

CHUNK = 5000  # national IDs per query: keeps every driver's parameter limits at bay


def check_identity(ctx: Context, national_id: str) -> tuple[str, date]:
    """The national ID, normalised, and the birth date it holds."""
    return parse_national_id(
        national_id, accept_synthetic=ctx.accept_synthetic_ids, today=ctx.today
    )


def check_name(name: str | None) -> str:
    """The patient's name, trimmed, required."""
    return parse_text("name", name, max_length=200) or ""


def check_protocol(ctx: Context, code: str | None) -> str:
    """A shipped protocol; the configuration's default when none is given."""
    return parse_choice("protocol", code or ctx.default_protocol, available_protocols())


def registered_ids(session: Session, numbers: Sequence[str]) -> set[str]:
    """Which of these national IDs are registered already (in any clinic)."""
    found: set[str] = set()
    for start in range(0, len(numbers), CHUNK):
        found.update(
            session.scalars(
                sa.select(Patient.national_id).where(
                    Patient.national_id.in_(numbers[start : start + CHUNK])
                )
            )
        )
    return found


def refuse_registered(session: Session, numbers: Sequence[str]) -> None:
    """The one refusal of a national ID registered already: a patient is registered once."""
    if found := registered_ids(session, numbers):
        number = next(n for n in numbers if n in found)  # the first, as the caller listed them
        raise InputError("national_id", number, "is already registered")
