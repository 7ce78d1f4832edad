"""A VTIMEZONE for the clinic's zone, derived from the tz database (no hand-kept table)."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from .ical import CRLF, ical_local

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@lru_cache(maxsize=16)
def vtimezone(tzid: str, year: int) -> str:
    """The VTIMEZONE of `tzid` as its rules stand in `year`, repeating yearly from then on."""
    zone = ZoneInfo(tzid)
    changes = _transitions(zone, year)
    if not changes:  # no daylight saving time: one observance
        start = datetime(year, 1, 1, tzinfo=UTC).astimezone(zone)
        offset = _offset_at(zone, start)
        return _component(
            tzid,
            [_observance("STANDARD", datetime(year, 1, 1), offset, offset, start.tzname(), None)],
        )
    return _component(tzid, [_change(zone, moment) for moment in changes])


def _component(tzid: str, observances: list[str]) -> str:
    return f"BEGIN:VTIMEZONE{CRLF}TZID:{tzid}{CRLF}" + "".join(observances) + f"END:VTIMEZONE{CRLF}"


def _change(zone: ZoneInfo, moment: datetime) -> str:
    """The observance that begins at the UTC instant `moment`."""
    before = _offset_at(zone, moment - timedelta(seconds=1))
    after = moment.astimezone(zone)
    local = (moment + before).replace(tzinfo=None)  # DTSTART is the wall clock before the change
    kind = "DAYLIGHT" if after.dst() else "STANDARD"
    return _observance(kind, local, before, _offset_at(zone, moment), after.tzname(), _rule(local))


def _observance(
    kind: str,
    local: datetime,
    before: timedelta,
    after: timedelta,
    name: str | None,
    rule: str | None,
) -> str:
    lines = [
        f"BEGIN:{kind}",
        f"DTSTART:{ical_local(local.date(), local.time())}",
        f"TZOFFSETFROM:{_offset(before)}",
        f"TZOFFSETTO:{_offset(after)}",
    ]
    lines += [f"TZNAME:{name}"] * bool(name) + [f"RRULE:{rule}"] * bool(rule) + [f"END:{kind}"]
    return CRLF.join(lines) + CRLF


def _rule(local: datetime) -> str:
    """The yearly rule of a change on this day: the last or the n-th weekday of its month."""
    last_day = calendar.monthrange(local.year, local.month)[1]
    nth = "-1" if local.day + 7 > last_day else str((local.day - 1) // 7 + 1)
    return f"FREQ=YEARLY;BYMONTH={local.month};BYDAY={nth}{WEEKDAYS[local.weekday()]}"


def _offset(delta: timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _transitions(zone: ZoneInfo, year: int) -> list[datetime]:
    """The UTC instants in `year` at which the zone's offset changes."""
    day = datetime(year, 1, 1, tzinfo=UTC)
    found = []
    while day.year == year:
        following = day + timedelta(days=1)
        if _offset_at(zone, day) != _offset_at(zone, following):
            found.append(_bisect(zone, day, following))
        day = following
    return found


def _bisect(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first minute in (low, high] with the offset of `high`."""
    target = _offset_at(zone, high)
    while high - low > timedelta(minutes=1):
        middle = low + (high - low) / 2
        middle = middle.replace(second=0, microsecond=0)
        if middle <= low:
            middle = low + timedelta(minutes=1)
        low, high = (low, middle) if _offset_at(zone, middle) == target else (middle, high)
    return high


def _offset_at(zone: ZoneInfo, moment: datetime) -> timedelta:
    """The zone's offset from UTC at a UTC instant."""
    return moment.astimezone(zone).utcoffset() or timedelta(0)  # never None for an aware time
