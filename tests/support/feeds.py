"""Feeds without a database: exam rows as the feed's query returns them, a feed built from
them, its content lines, and the same feed read by three independent iCalendar parsers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import icalendar
import ics
import vobject

from surveillance.config import Config, FeedsConfig
from surveillance.feeds.events import ExamRow
from surveillance.feeds.render import EventCache, FeedSettings, feed_text

TODAY = date(2026, 6, 1)
CHANGED = datetime(2026, 5, 20, 9, 30, tzinfo=UTC)
# The builder's behaviour is tested in English; the default words are bokmål (tested below).
SETTINGS = FeedSettings.from_config(Config(feeds=FeedsConfig(language="en")))


def exam(**overrides) -> ExamRow:
    """A planned exam as the feed's query returns it; keyword arguments override."""
    values = dict(
        id=1,
        uid="0f0e0d0c-0000-4000-8000-000000000001",
        patient_id=7,
        anchor_id=3,
        month=6,
        code="ct_tap",
        state="open",
        sequence=0,
        due=date(2026, 9, 15),
        due_working_day=date(2026, 9, 15),
        booked_date=None,
        booked_time=None,
        booked_place=None,
        coordinated_date=None,
        updated_at=CHANGED,
        local_number=42,
        details=False,
        name=None,
    )
    values.update(overrides)
    return ExamRow(**values)


def control(id: int = 1, **overrides) -> tuple[ExamRow, ...]:
    """A control of ct_tap and cea due the same day, ids `id` and `id` + 1; overrides go to both."""
    second = {**overrides, "id": id + 1, "code": "cea", "uid": f"{id + 1}-{overrides.get('uid')}"}
    return exam(id=id, **overrides), exam(**second)


def build(rows, name: str, today: date, settings: FeedSettings, cache: EventCache) -> str:
    """A feed of these rows (each its own version, as in a database's index)."""
    return feed_text(
        rows,
        lambda ids: [r for r in rows if r.id in ids],
        name,
        settings.day(today),
        settings,
        cache,
    )


def lines(text: str) -> list[str]:
    """The unfolded content lines."""
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def prop(text: str, name: str) -> list[str]:
    """The values of a property (any parameters dropped)."""
    return [line.split(":", 1)[1] for line in lines(text) if re.match(rf"{name}[;:]", line)]


def _when(value) -> date | datetime:
    """A date as it is; a time as the UTC instant (every parser has its own tzinfo)."""
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def by_icalendar(text: str) -> dict[str, tuple]:
    calendar = icalendar.Calendar.from_ical(text)
    return {
        str(e["UID"]): (
            _when(e.decoded("DTSTART")),
            _when(e.decoded("DTEND")),
            str(e["SUMMARY"]),
            str(e["STATUS"]),
            int(e.decoded("SEQUENCE")),
            str(e["DESCRIPTION"]),
            len(e.walk("VALARM")),
        )
        for e in calendar.walk("VEVENT")
    }


def by_vobject(text: str) -> dict[str, tuple]:
    calendar = vobject.readOne(text)
    return {
        e.uid.value: (
            _when(e.dtstart.value),
            _when(e.dtend.value),
            e.summary.value,
            e.status.value,
            int(e.sequence.value),
            e.description.value,
            len(getattr(e, "valarm_list", [])),
        )
        for e in getattr(calendar, "vevent_list", [])
    }


def by_ics(text: str) -> dict[str, tuple]:
    calendar = ics.Calendar(text)
    return {
        e.uid: (*_ics_when(e), e.name, e.status, _ics_sequence(e), e.description, len(e.alarms))
        for e in calendar.events
    }


def _ics_when(event) -> tuple:
    if event.all_day:  # ics.py gives all-day events as midnights; their dates are the point
        return event.begin.date(), event.end.date()
    return event.begin.datetime.astimezone(UTC), event.end.datetime.astimezone(UTC)


def _ics_sequence(event) -> int:
    (line,) = [x for x in event.extra if x.name == "SEQUENCE"]  # ics.py keeps it as extra
    return int(line.value)


def parse_all(text: str) -> dict[str, tuple]:
    """The events by UID, checked to be the same in all three parsers."""
    first, second, third = by_icalendar(text), by_vobject(text), by_ics(text)
    assert first == second == third
    return first
