"""Calendar months (R5) and Norwegian working days (R11)."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta
from functools import lru_cache

import holidays

ONE_DAY = timedelta(days=1)


def add_months(start: date, months: int) -> date:
    """Add calendar months; a day missing in the target month becomes its last day."""
    years, month0 = divmod(start.month - 1 + months, 12)
    year = start.year + years
    day = start.day
    if day > 28:
        day = min(day, monthrange(year, month0 + 1)[1])
    return date(year, month0 + 1, day)


@lru_cache(maxsize=256)
def norwegian_holidays(year: int) -> frozenset[date]:
    """The public holidays of Norway in a year (Sundays are weekends anyway)."""
    return frozenset(holidays.country_holidays("NO", years=year, language="en_US"))


def is_working_day(
    day: date,
    closed_days: frozenset[date] = frozenset(),
    closed_annual: frozenset[tuple[int, int]] = frozenset(),
) -> bool:
    """Not a weekend, a Norwegian public holiday or a day the clinic is closed."""
    return not (
        day.weekday() >= 5
        or day in norwegian_holidays(day.year)
        or day in closed_days
        or (day.month, day.day) in closed_annual
    )


def working_day_on_or_after(
    day: date,
    closed_days: frozenset[date] = frozenset(),
    closed_annual: frozenset[tuple[int, int]] = frozenset(),
) -> date:
    """The first working day on or after `day`."""
    while not is_working_day(day, closed_days, closed_annual):
        day += ONE_DAY
    return day
