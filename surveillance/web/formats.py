"""Numbers, days and moments as the reader's language writes them, through Babel.

Bokmål writes a decimal comma (12,0), days as dd.mm.åååå and times in Europe/Oslo (the
clinic's zone, Flask-Babel's default time zone here); English gets its own separators.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from flask_babel import format_datetime, format_decimal

DAY = "dd.MM.yyyy"
MOMENT = "dd.MM.yyyy HH:mm"
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def day(value: date | str | None) -> str:
    """A day as dd.mm.åååå; an ISO day written as text too; nothing for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        parsed = _iso_day(value)
        if parsed is None:
            return value  # not a day, or no such day (2025-02-30): as typed
        value = parsed
    # What format_date(value, DAY) writes in every language (digits only), without its
    # locale lookups: a worklist page writes a few hundred days (issue 10).
    return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"


def _iso_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if _ISO_DAY.fullmatch(text) else None
    except ValueError:
        return None


def moment(value: datetime | None, seconds: bool = False) -> str:
    """A stored (UTC) moment in the clinic's time, to the minute (or second)."""
    if value is None:
        return ""
    return format_datetime(value, MOMENT + (":ss" if seconds else ""))


def number(value: float | None, digits: int = 1) -> str:
    """A measured value with a fixed count of decimals: 12,0 in bokmål, 12.0 in English."""
    if value is None:
        return ""
    return format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0")


def shown(value):
    """A message's value as the reader writes it: ISO days as days, fractions with a comma."""
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        return day(value)
    if isinstance(value, datetime):
        return moment(value)
    if isinstance(value, date):
        return day(value)
    if isinstance(value, float):
        return format_decimal(value)
    return value


def phone(value: str | None) -> str:
    """A stored 8-digit number as Norwegians write it: mobiles 412 34 567, others 22 12 34 56."""
    if not value or len(value) != 8:
        return value or ""
    if value[0] in "49":
        return f"{value[:3]} {value[3:5]} {value[5:]}"
    return " ".join(value[i : i + 2] for i in range(0, 8, 2))


def init_app(app) -> None:
    """The filters the templates use: |day, |moment, |number, |phone."""
    app.jinja_env.filters.update(day=day, moment=moment, number=number, phone=phone)
