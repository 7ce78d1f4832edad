"""A feed reads the same in three independent parsers: icalendar, vobject and ics (ics.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import icalendar
import vobject

from surveillance.feeds.render import EventCache
from tests.support.feeds import (
    SETTINGS,
    TODAY,
    build,
    control,
    exam,
    parse_all,
)


def varied_feed() -> str:
    """A feed with one control of each kind: open, booked with and without a time, done,
    cancelled, with details, with text that needs escaping and folding."""
    rows = [
        *control(),
        *control(
            id=20,
            patient_id=8,
            local_number=43,
            uid="b",
            state="booked",
            booked_date=date(2026, 10, 26),
            booked_time=time(9, 30),
        ),  # the day after DST ends
        *control(
            id=30,
            patient_id=9,
            local_number=44,
            uid="c",
            state="booked",
            booked_date=date(2026, 7, 1),
            booked_time=time(14, 0),
            details=True,
            name='Ærlig; Øystein, \\ "Å"',
            booked_place="Lab\r\nATTENDEE:evil, " + "long place name " * 8,
        ),
        *control(
            id=40,
            patient_id=10,
            local_number=45,
            uid="d",
            state="booked",
            booked_date=date(2026, 8, 3),
        ),
        *control(
            id=50,
            patient_id=11,
            local_number=46,
            uid="e",
            state="done",
            due=date(2026, 4, 1),
            due_working_day=date(2026, 4, 1),
        ),
        *control(id=60, patient_id=12, local_number=47, uid="f", state="cancelled", sequence=2),
        exam(
            id=90,
            patient_id=13,
            local_number=48,
            uid="g",
            code="ct_liver",
            month=3,
            coordinated_date=date(2026, 9, 1),
        ),
    ]
    return build(rows, "Liver follow-up · TEST, ÅS", TODAY, SETTINGS, EventCache(100))


def test_three_parsers_read_the_same_events():
    events = parse_all(varied_feed())
    assert len(events) == 7
    statuses = sorted(e[3] for e in events.values())
    # To book: tentative; booked, done or coordinated (fulfilled elsewhere): confirmed.
    assert statuses == ["CANCELLED"] + ["CONFIRMED"] * 5 + ["TENTATIVE"]


def test_times_are_read_in_the_clinics_zone():
    events = parse_all(varied_feed())
    starts = {e[0] for e in events.values() if isinstance(e[0], datetime)}
    # 09:30 in Oslo is 08:30 UTC after summer time ends (25 October), 14:00 is 12:00 UTC in July.
    assert starts == {
        datetime(2026, 10, 26, 8, 30, tzinfo=UTC),
        datetime(2026, 7, 1, 12, tzinfo=UTC),
    }


def test_all_day_events_end_the_next_day():
    events = parse_all(varied_feed())
    all_day = [e for e in events.values() if not isinstance(e[0], datetime)]
    assert all_day and all(end - start == timedelta(days=1) for start, end, *_ in all_day)


def test_escaped_text_comes_back_as_it_was_written():
    events = parse_all(varied_feed())
    (summary,) = [e[2] for e in events.values() if "Øystein" in e[2]]
    assert summary == 'P-0044 Ærlig; Øystein, \\ "Å" · CT chest/abdomen/pelvis + CEA blood test'


def test_the_calendar_properties_survive_a_parser():
    text = varied_feed()
    names = vobject.readOne(text).contents
    assert names["x-wr-calname"][0].value == names["name"][0].value == "Liver follow-up · TEST, ÅS"
    calendar = icalendar.Calendar.from_ical(text)
    # icalendar does not know NAME (RFC 7986) or X-WR-CALNAME: it keeps the escaped TEXT.
    assert calendar["NAME"].to_ical().decode() == r"Liver follow-up · TEST\, ÅS"
    assert calendar["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert calendar.decoded("REFRESH-INTERVAL") == timedelta(hours=6)
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT6H"
