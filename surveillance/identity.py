"""Norwegian national identity numbers (fødselsnummer and D-number), via python-stdnum."""

from __future__ import annotations

from datetime import date

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import fodselsnummer

from .errors import InputError

SYNTHETIC_MONTH_OFFSET = 80  # the national test-data convention: month + 80


def parse_national_id(value: str, *, accept_synthetic: bool, today: date) -> tuple[str, date]:
    """Return the compact number and the birth date, or raise InputError naming the field."""
    number = fodselsnummer.compact(value or "")
    if len(number) != 11 or not number.isdigit():
        raise InputError("national_id", value, "must be 11 digits")
    try:
        if int(number[2:4]) > SYNTHETIC_MONTH_OFFSET:
            birth = _synthetic_birth_date(number, accept_synthetic)
        else:
            fodselsnummer.validate(number)
            birth = fodselsnummer.get_birth_date(number)
    except StdnumError as exc:
        raise InputError(
            "national_id",
            value,
            "is not a valid national ID (%(detail)s)",
            detail=getattr(exc, "message", str(exc)),
        ) from None
    if birth > today:
        raise InputError("national_id", value, "gives a birth date in the future")
    return number, birth


def _synthetic_birth_date(number: str, accept_synthetic: bool) -> date:
    if not accept_synthetic:
        raise InputError(
            "national_id", number, "is a synthetic test number, not accepted by this installation"
        )
    if (
        fodselsnummer.calc_check_digit1(number) != number[9]
        or fodselsnummer.calc_check_digit2(number) != number[10]
    ):
        raise InputError("national_id", number, "has wrong check digits")
    month = int(number[2:4]) - SYNTHETIC_MONTH_OFFSET
    return fodselsnummer.get_birth_date(f"{number[:2]}{month:02d}{number[4:]}")


def make_synthetic_id(birth: date, individual: int) -> str | None:
    """A synthetic number for `birth` (individual 0-499 for 1900-1999), or None if no check digit fits."""
    stem = f"{birth.day:02d}{birth.month + SYNTHETIC_MONTH_OFFSET:02d}{birth.year % 100:02d}{individual:03d}"
    k1 = fodselsnummer.calc_check_digit1(stem)
    if len(k1) > 1:
        return None
    k2 = fodselsnummer.calc_check_digit2(stem + k1)
    return None if len(k2) > 1 else stem + k1 + k2
