"""Parsing of the values the services accept from forms, files and the command line."""

from __future__ import annotations

import math
from datetime import date, time

from ..db.models import Patient
from ..errors import InputError


def parse_date(field: str, value: date | str | None) -> date:
    """A date, or an ISO date string; anything else is refused naming the field."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except (ValueError, TypeError):
        raise InputError(field, value, "is not a valid date (YYYY-MM-DD)") from None


def parse_time(field: str, value: time | str | None) -> time | None:
    """An optional time of day (HH:MM)."""
    if isinstance(value, time):
        return value
    if not value:
        return None
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(field, value, "is not a valid time (HH:MM)") from None


def parse_choice(field: str, value: str | None, choices) -> str:
    """One of a set of codes."""
    if value is None or value not in choices:
        raise InputError(
            field, value, "is not one of %(choices)s", choices=", ".join(sorted(choices))
        )
    return value


def parse_text(
    field: str, value: str | None, *, max_length: int, required: bool = True
) -> str | None:
    """Trimmed free text within a length."""
    text = (value or "").strip()
    if required and not text:
        raise InputError(field, value, "must not be empty")
    if len(text) > max_length:
        raise InputError(
            field, text[:40] + "…", "is longer than %(max)d characters", max=max_length
        )
    return text or None


def parse_cea(field: str, value: float | str | None) -> float:
    """A CEA value in µg/L: a finite, non-negative number (a decimal comma is fine)."""
    try:
        number = float(str(value).strip().replace(",", "."))
    except (ValueError, TypeError):
        raise InputError(field, value, "is not a number (µg/L)") from None
    if not math.isfinite(number) or not 0 <= number < 100_000:
        raise InputError(field, value, "is not a plausible CEA value (0-100000 µg/L)")
    return number


def check_not_future(field: str, value: date, today: date) -> date:
    """A date that has happened."""
    if value > today:
        raise InputError(
            field,
            value.isoformat(),
            "is in the future (today is %(today)s)",
            today=today.isoformat(),
        )
    return value


def birth_date_check(field: str, value: date, patient: Patient) -> date:
    """A date in a patient's life, not before birth."""
    if value < patient.birth_date:
        raise InputError(field, value.isoformat(), "is before the patient's birth date")
    return value
