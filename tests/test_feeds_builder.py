"""The feed's pure parts: content lines, the VTIMEZONE, tokens, and one event per control."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from surveillance.config import Config, ConfigError, FeedsConfig
from surveillance.feeds.events import control_uid, group_controls, vevent
from surveillance.feeds.render import (
    CachedEvent,
    EventCache,
    FeedSettings,
    calendar_head,
)
from surveillance.feeds.tokens import (
    feed_urls,
    new_token,
    same_hash,
    token_hash,
    well_formed,
)
from tests.support.feeds import CHANGED, SETTINGS, TODAY, build, control, exam, lines, prop

# ---- content lines (icalendar's, with the values we give it) ---------------------------


def summary_of(name: str) -> str:
    """The VEVENT of a control whose patient has this name (the clinic shows names)."""
    return vevent(control(details=True, name=name), False, SETTINGS.events)


@pytest.mark.parametrize(
    "value",
    [
        "x" * 200,  # ASCII: cut every 75 octets
        "æøå" * 60,  # two-octet characters: never cut inside one
        "a" + "€" * 70,  # three-octet characters, met at every offset
        "𝄞" * 40 + "b",  # four-octet characters
    ],
    ids=["ascii", "two-octet", "three-octet", "four-octet"],
)
def test_lines_fold_at_75_octets_without_splitting_a_character(value):
    folded = summary_of(value).encode()
    *physical, after_last = folded.split(b"\r\n")
    assert after_last == b"" and all(len(line) <= 75 for line in physical)
    assert [line.decode("utf-8") for line in physical]  # each physical line is whole UTF-8
    assert prop(folded.decode(), "SUMMARY") == [
        f"P-0042 {value} · CT chest/abdomen/pelvis + CEA blood test"
    ]


@pytest.mark.parametrize(
    "raw, escaped",
    [
        ("a,b", r"a\,b"),  # comma
        ("a;b", r"a\;b"),  # semicolon
        ("a\\b", "a\\\\b"),  # backslash first, so its escape is not escaped again
        ("a\nb", r"a\nb"),  # newline
        ("a\r\nb", r"a\nb"),  # CRLF is one line break
        ("a\rATTENDEE:evil", r"a\nATTENDEE:evil"),  # a lone CR is a line break too
        ("a\x00b\x1bc\td", "abc\td"),  # other control characters are not TEXT; the tab is
        ("plain", "plain"),
    ],
)
def test_text_is_escaped(raw, escaped):
    [summary] = prop(summary_of(raw), "SUMMARY")
    assert summary == f"P-0042 {escaped} · CT chest/abdomen/pelvis + CEA blood test"


# ---- the time zone (icalendar's, from the tz database) --------------------------------


def vtimezone(tzid: str, year: int) -> list[tuple[str, str, str, str]]:
    """Each observance of the zone's VTIMEZONE over `year`: kind, onset, offsets from and to."""
    head = calendar_head("x", "PT6H", tzid, (year, year))
    [zone] = icalendar.Calendar.from_ical(head + "END:VCALENDAR\r\n").walk("VTIMEZONE")
    return [
        (
            o.name,
            o.decoded("DTSTART").date().isoformat(),
            o["TZOFFSETFROM"].to_ical(),
            o["TZOFFSETTO"].to_ical(),
        )
        for o in zone.subcomponents
        if o["TZOFFSETFROM"].to_ical() != o["TZOFFSETTO"].to_ical()
    ]


def test_oslo_changes_on_the_last_sundays_of_march_and_october():
    assert vtimezone("Europe/Oslo", 2025) == [
        ("DAYLIGHT", "2025-03-30", "+0100", "+0200"),
        ("STANDARD", "2025-10-26", "+0200", "+0100"),
    ]


@pytest.mark.parametrize(
    "tzid, onset",
    [
        ("America/New_York", "2025-03-09"),  # the second Sunday of March, not the last
        ("Australia/Sydney", "2025-10-05"),  # summer time across the new year: from October
    ],
)
def test_other_zones_get_their_own_changes(tzid, onset):
    assert onset in [day for kind, day, _, _ in vtimezone(tzid, 2025) if kind == "DAYLIGHT"]


def test_a_zone_without_summer_time_has_one_observance():
    text = calendar_head("x", "PT6H", "Asia/Tokyo", (2025, 2025))
    assert text.count("BEGIN:STANDARD") == 1 and "DAYLIGHT" not in text and "+0900" in text


# ---- tokens ---------------------------------------------------------------------------


def test_tokens_are_random_long_and_kept_only_as_a_hash():
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(well_formed(t) and len(t) == 43 for t in tokens)
    token = tokens.pop()
    assert re.fullmatch(r"[0-9a-f]{64}", token_hash(token)) and token not in token_hash(token)
    other = token[:-1] + ("B" if token.endswith("A") else "A")
    assert same_hash(token_hash(token), token) and not same_hash(token_hash(token), other)


@pytest.mark.parametrize(
    "token", ["", "short", "x" * 42, "x" * 44, "a/b" + "x" * 40, "x" * 42 + "."]
)
def test_malformed_tokens_are_refused_before_the_database(token):
    assert not well_formed(token)


def test_the_addresses_of_a_feed():
    https, webcal = feed_urls("https://oppfolging.example.no/", "T" * 43)
    assert https == f"https://oppfolging.example.no/feeds/{'T' * 43}.ics"
    assert webcal == f"webcal://oppfolging.example.no/feeds/{'T' * 43}.ics"


# ---- one event per control -------------------------------------------------------------


def test_exams_of_a_control_make_one_event_and_other_months_another():
    rows = [*control(), exam(id=3, month=12, uid="u3")]
    assert [len(c) for c in group_controls(rows)] == [2, 1]


def test_an_all_day_event_on_the_working_day_ends_the_next_day():
    text = vevent(control(due_working_day=date(2026, 9, 16)), False, SETTINGS.events)
    assert "DTSTART;VALUE=DATE:20260916\r\n" in text and "DTEND;VALUE=DATE:20260917\r\n" in text
    assert prop(text, "UID") == [control_uid(control())] and prop(text, "STATUS") == ["TENTATIVE"]


def test_a_booking_with_a_time_makes_a_timed_event_in_the_clinics_zone():
    booked = dict(state="booked", booked_date=date(2026, 9, 14), booked_time=time(10, 15))
    members = (
        exam(**booked),
        exam(**{**booked, "booked_time": time(9, 0)}, id=2, code="cea", uid="u2"),
    )
    text = vevent(members, False, SETTINGS.events)
    assert "DTSTART;TZID=Europe/Oslo:20260914T090000\r\n" in text
    assert "DTEND;TZID=Europe/Oslo:20260914T104500\r\n" in text  # the last one + 30 minutes
    assert prop(text, "STATUS") == ["CONFIRMED"]


def test_a_booking_without_a_time_moves_the_all_day_event_to_its_date():
    text = vevent(control(state="booked", booked_date=date(2026, 9, 10)), False, SETTINGS.events)
    assert "DTSTART;VALUE=DATE:20260910\r\n" in text


def test_sequence_adds_up_the_exams_and_dtstamp_is_their_last_change():
    later = CHANGED + timedelta(days=2)
    members = (exam(sequence=2), exam(id=2, uid="u2", code="cea", sequence=1, updated_at=later))
    text = vevent(members, False, SETTINGS.events)
    # A sum grows whichever exam changed; a max would not when the smaller one did.
    assert prop(text, "SEQUENCE") == ["3"]
    assert prop(text, "DTSTAMP") == prop(text, "LAST-MODIFIED") == ["20260522T093000Z"]


def test_a_cancelled_control_says_so():
    text = vevent(control(state="cancelled", sequence=1), False, SETTINGS.events)
    assert prop(text, "STATUS") == ["CANCELLED"]
    assert prop(text, "SUMMARY") == ["Cancelled: P-0042 · Follow-up control"]


def test_the_alarm_rings_at_eight_on_the_booking_deadline():
    text = vevent(control(), True, SETTINGS.events)
    assert "BEGIN:VALARM\r\nACTION:DISPLAY\r\n" in text
    assert prop(text, "TRIGGER") == ["-P41DT16H"]  # 42 days before, plus 8 hours


def test_by_default_an_event_shows_a_reference_and_a_link_only():
    text = vevent(control(booked_place="CT-lab"), False, SETTINGS.events)
    assert prop(text, "SUMMARY") == ["P-0042 · Follow-up control"]
    assert prop(text, "URL") == ["http://127.0.0.1:5000/patients/7"]
    assert "http://127.0.0.1:5000/patients/7" in prop(text, "DESCRIPTION")[0]
    for secret in ("CT", "CEA", "lab", "LOCATION"):
        assert secret not in text.replace("CONFIDENTIAL", "")


def test_a_clinic_that_opted_in_sees_names_exams_and_places():
    members = control(
        details=True,
        name="Kari Nordmann",
        state="booked",
        booked_date=date(2026, 9, 14),
        booked_place="CT-lab, Ullevål",
    )
    text = vevent(members, False, SETTINGS.events)
    assert prop(text, "SUMMARY") == [
        "P-0042 Kari Nordmann · CT chest/abdomen/pelvis + CEA blood test"
    ]
    assert prop(text, "LOCATION") == [r"CT-lab\, Ullevål"]


def test_by_default_the_feed_speaks_norwegian():
    settings = FeedSettings.from_config(Config())
    plain = vevent(control(), True, settings.events)
    assert prop(plain, "SUMMARY") == ["P-0042 · Oppfølgingskontroll"]
    assert prop(plain, "DESCRIPTION") == [  # the event's, then its alarm's
        r"Bestilles innen 04.08.2026\nÅpne i Leveroppfølging: http://127.0.0.1:5000/patients/7",
        "Bestill oppfølgingskontrollen for P-0042",
    ]
    cancelled = vevent(
        control(state="cancelled", details=True, name="Kari Nordmann"), False, settings.events
    )
    assert prop(cancelled, "SUMMARY") == [
        "Avlyst: P-0042 Kari Nordmann · CT thorax/abdomen/bekken + CEA"
    ]
    assert settings.calendar_word == "Leveroppfølging"


@pytest.mark.parametrize("field", ["name", "booked_place"])
def test_no_property_can_be_injected(field):
    evil = "x\r\nATTENDEE:mailto:evil@example.com\rORGANIZER:evil\nX-EVIL:1;y,z\\"
    values = {"name": "Kari", "booked_place": "Lab", field: evil}
    members = control(details=True, state="booked", booked_date=date(2026, 9, 14), **values)
    text = vevent(members, False, SETTINGS.events)
    names = [line.split(":")[0].split(";")[0] for line in lines(text)]
    assert not {"ATTENDEE", "ORGANIZER", "X-EVIL"} & set(names)
    assert "\r" not in text.replace("\r\n", "") and "\n" not in text.replace("\r\n", "")


def test_cancelled_controls_leave_the_feed_after_60_days():
    cancelled = control(state="cancelled", updated_at=datetime(2026, 4, 1, 12, tzinfo=UTC))
    shown = [
        d
        for d in (date(2026, 5, 31), date(2026, 6, 1))
        if "BEGIN:VEVENT" in build(cancelled, "x", d, SETTINGS, EventCache(10))
    ]
    assert shown == [date(2026, 5, 31)]  # 2026-04-01 + 60 days = 2026-05-31, its last day


def test_a_repeated_build_serialises_only_what_changed():
    cache = EventCache(100)
    rows = [
        *control(),
        exam(id=3, uid="u3", month=12, due=date(2026, 12, 1), due_working_day=date(2026, 12, 1)),
    ]
    first = build(rows, "x", TODAY, SETTINGS, cache)
    assert cache.built == 2 and build(rows, "x", TODAY, SETTINGS, cache) == first
    rows[2] = rows[2]._replace(sequence=1, state="booked", booked_date=date(2026, 12, 2))
    build(rows, "x", TODAY, SETTINGS, cache)
    assert cache.built == 3


def test_the_cache_stays_within_its_limit():
    cache = EventCache(2)
    for first_id in (1, 2, 3):
        cache.put(first_id, CachedEvent((first_id,), "", "", None, False))
    assert cache.get(3, (3,)) is not None and cache.get(1, (1,)) is None
    assert cache.get(3, (4,)) is None  # another version of the control: made again


def test_the_calendar_names_itself_and_asks_to_be_refreshed():
    text = build([], "Liver follow-up · TEST", TODAY, SETTINGS, EventCache(1))
    assert lines(text) == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//surveillance//liver follow-up//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "NAME:Liver follow-up · TEST",
        "X-WR-CALNAME:Liver follow-up · TEST",
        "REFRESH-INTERVAL;VALUE=DURATION:PT6H",
        "X-PUBLISHED-TTL:PT6H",
        "END:VCALENDAR",
    ]


def test_a_vtimezone_comes_only_with_a_timed_event():
    booked = control(state="booked", booked_date=date(2026, 9, 14), booked_time=time(10, 0))
    assert "BEGIN:VTIMEZONE" not in build(control(), "x", TODAY, SETTINGS, EventCache(9))
    assert "BEGIN:VTIMEZONE" in build(booked, "x", TODAY, SETTINGS, EventCache(9))


@pytest.mark.parametrize(
    "values, message",
    [
        ({"refresh_interval": "6 hours"}, "feeds.refresh_interval"),  # not a duration
        ({"refresh_interval": "PT"}, "feeds.refresh_interval"),  # an empty one
        ({"days_ahead": 0}, "feeds.days_ahead"),  # a window that holds nothing ahead
        ({"cancelled_days": -1}, "feeds.cancelled_days"),
        ({"language": "de"}, "feeds.language"),
    ],
)
def test_impossible_feed_settings_are_refused(values, message):
    with pytest.raises(ConfigError, match=message):
        FeedsConfig(**values)


def test_the_window_and_the_cancellation_cutoff_follow_the_clinics_date():
    assert SETTINGS.window(TODAY) == (date(2026, 3, 3), date(2027, 7, 6))
    since = SETTINGS.cancelled_since(TODAY)
    assert since == datetime(2026, 4, 2, tzinfo=ZoneInfo("Europe/Oslo"))
