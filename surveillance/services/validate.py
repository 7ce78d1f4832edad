"""Parsing of the values the services accept from forms, files and the command line."""

from __future__ import annotations

import math
import re
from datetime import date, time, timedelta

from ..db.models import Patient
from ..errors import InputError

# The one date format of forms, files and the command line (date.fromisoformat would also take
# 20251101 and 2026-W52-1). Dates outside the range are typing errors, and would overflow
# the calendar arithmetic of plans and feeds.
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)
BOOKING_HORIZON = timedelta(days=2 * 365)  # bookings and scheduled controls: up to 2 years ahead


def parse_date(field: str, value: date | str | None) -> date:
    """A date in the one documented format, YYYY-MM-DD, within EARLIEST..LATEST."""
    if isinstance(value, date):
        day = value
    else:
        text = str(value or "").strip()
        try:
            if not ISO_DATE.fullmatch(text):
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            raise InputError(field, _short(value), "is not a valid date (YYYY-MM-DD)") from None
    if not EARLIEST <= day <= LATEST:
        raise InputError(
            field,
            day.isoformat(),
            "is outside %(earliest)s to %(latest)s",
            earliest=EARLIEST.isoformat(),
            latest=LATEST.isoformat(),
        )
    return day


def check_horizon(field: str, value: date, today: date) -> date:
    """A date planned ahead, at most BOOKING_HORIZON from today (later ones are typing errors)."""
    latest = today + BOOKING_HORIZON
    if value > latest:
        raise InputError(field, value.isoformat(), "is after %(latest)s", latest=latest.isoformat())
    return value


def _short(value: object) -> str:
    """A refused value as a message may echo it: at most 40 characters."""
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "…"


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
        raise InputError(field, _short(value), "is longer than %(max)d characters", max=max_length)
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


NORWEGIAN_PHONE = re.compile(r"(?:\+47|0047)?([0-9]{8})")


def parse_phone(field: str, value: str | None) -> str | None:
    """An optional Norwegian telephone number: 8 digits, maybe after +47; stored as 8 digits."""
    text = re.sub(r"[\s.-]", "", value or "")
    if not text:
        return None
    match = NORWEGIAN_PHONE.fullmatch(text)
    if match is None:
        raise InputError(
            field, _short(value), "is not a Norwegian telephone number (8 digits, maybe after +47)"
        )
    return match.group(1)
