"""A whole feed: the calendar around the events, each event serialised once per change."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from icalendar import Calendar, Timezone, vDuration, vText

from ..config import Config
from ..i18n import translations
from ..protocol import exam_names
from ..services import Actor, Context
from .events import (
    END_VEVENT,
    EventSettings,
    Exam,
    ExamRow,
    FeedDay,
    booking_deadline,
    event_parts,
    first_id,
    group_controls,
    is_shown,
    make_words,
)

# Bump when the builder's output changes, so that every feed's ETag changes with it.
# 3: extra exams of one anchor are events of their own; 4: the open controls come from the
# stored controls, with the engine's lists in words
FORMAT_VERSION = 4
PRODID = "-//surveillance//liver follow-up//EN"
END_VCALENDAR = "END:VCALENDAR\r\n"


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """The configuration a feed is built with."""

    events: EventSettings
    refresh_interval: str
    days_back: int
    days_ahead: int
    cancelled_days: int
    overdue_after_days: int
    calendar_word: str
    fingerprint: str  # changes with any setting that changes a feed's text

    @classmethod
    def from_config(cls, config: Config) -> FeedSettings:
        """The feeds' settings from the loaded configuration."""
        f, p = config.feeds, config.protocol
        _ = translations(f.language).gettext
        reference = Context(
            Actor("feeds"), date.min, reference_prefix=config.patients.reference_prefix
        ).reference
        events = EventSettings(
            config.web.base_url.rstrip("/"),
            p.timezone,
            p.book_ahead_days,
            f.event_minutes,
            make_words(_, exam_names(f.language)),  # as the protocol files name them (R16)
            reference,
        )
        used = (
            FORMAT_VERSION,
            f,
            config.web.base_url,
            p.timezone,
            p.book_ahead_days,
            p.overdue_after_days,
            config.patients.reference_prefix,
            tuple(sorted(exam_names(f.language).items())),
            events.words,  # the catalogue's words: kept events outlive an upgrade that edits them
        )
        return cls(
            events,
            f.refresh_interval,
            f.days_back,
            f.days_ahead,
            f.cancelled_days,
            p.overdue_after_days,
            _("Liver follow-up"),
            hashlib.sha256(repr(used).encode()).hexdigest(),
        )

    def window(self, today: date) -> tuple[date, date]:
        """The first and last working day of the controls a feed holds."""
        return today - timedelta(days=self.days_back), today + timedelta(days=self.days_ahead)

    def cancelled_since(self, today: date) -> datetime:
        """Controls cancelled before this moment (the clinic's midnight) have left the feed."""
        day = today - timedelta(days=self.cancelled_days)
        return datetime.combine(day, time(), ZoneInfo(self.events.tzid)).astimezone(UTC)

    def day(self, today: date) -> FeedDay:
        """The dates a feed is read and built with on the clinic's `today`."""
        first, last = self.window(today)
        late = today - timedelta(days=self.overdue_after_days)
        return FeedDay(today, first, last, late, self.cancelled_since(today))


@dataclass(frozen=True, slots=True)
class CachedEvent:
    """A serialised event, kept with the versions it was made from."""

    key: tuple  # the versions of the control's exams
    head: str  # the VEVENT up to its END line
    alarm: str  # its VALARM, "" when nothing is to be booked
    deadline: date | None  # the booking deadline: past it, the alarm is left out
    timed: bool  # refers to the VTIMEZONE


class EventCache:
    """Serialised events by their control's first exam, each with the versions it was made from."""

    def __init__(self, limit: int):
        self.limit = limit
        self.built = 0  # events serialised so far: the tests and the benchmark read it
        self.reused = 0  # events read back from the store instead
        self._events: dict[int, CachedEvent] = {}

    def get(self, first_id: int, key: tuple) -> CachedEvent | None:
        """The event made from exactly these versions, if it was made before."""
        hit = self._events.get(first_id)
        return hit if hit is not None and hit.key == key else None

    def put(self, first_id: int, event: CachedEvent, serialised: bool = True) -> CachedEvent:
        """Keep an event; past the limit, start over (a full rebuild costs one cold request)."""
        if len(self._events) >= self.limit and first_id not in self._events:
            self._events.clear()
        self._events[first_id] = event
        if serialised:
            self.built += 1
        else:
            self.reused += 1
        return event

    def clear(self) -> None:
        """Forget every event."""
        self._events.clear()


@dataclass(frozen=True, slots=True)
class KeptEvent:
    """A serialised event as the store keeps it: by its control's first exam, with a digest of
    the versions and settings it was made from."""

    first_id: int
    version: str
    head: str
    alarm: str
    deadline: date | None
    timed: bool


class EventStore(Protocol):
    """Where serialised events outlive the process (the database): any node, any restart."""

    def load(self, first_ids: list[int]) -> dict[int, KeptEvent]:
        """The kept events of these controls, whatever their version."""
        ...

    def save(self, events: list[KeptEvent]) -> None:
        """Keep these events, replacing older versions."""
        ...


def version_digest(control: tuple, fingerprint: str) -> str:
    """A digest of a control's versions and the settings: equal digests, equal events. The
    values as the driver reads them: a node whose driver reads an instant with another tzinfo
    only serialises the event again."""
    return hashlib.sha256(repr((fingerprint, control)).encode()).hexdigest()


Fetch = Callable[[list[int]], Iterable[ExamRow]]  # the exams of these ids, with what events show


def feed_text(
    versions: Iterable[Exam],
    fetch: Fetch,
    name: str,
    day: FeedDay,
    s: FeedSettings,
    cache: EventCache,
    store: EventStore | None = None,
) -> str:
    """The calendar of a feed's exams on the clinic's day; only the controls whose versions
    changed since they were cached (here, else in the store) are fetched and serialised."""
    today = day.today
    controls = [c for c in group_controls(versions) if is_shown(c, day.cancelled_since)]
    cached = [cache.get(first_id(c), c) for c in controls]
    missing = [c for c, event in zip(controls, cached) if event is None]
    built = _build(missing, fetch, s, cache, store) if missing else {}
    events = [event or built[first_id(c)] for c, event in zip(controls, cached)]
    parts: list[str] = []
    timed = False
    for event in events:
        # A deadline already past rings no more: a new subscriber gets no flood of old alarms.
        ring = event.deadline is not None and bool(event.alarm) and event.deadline >= today
        parts += (event.head, event.alarm, END_VEVENT) if ring else (event.head, END_VEVENT)
        timed = timed or event.timed
    first, last = day.first, day.last
    # The zone's changes from the year before the window to the year after cover every event.
    years = (first.year - 1, last.year + 1) if timed else None
    return (
        calendar_head(name, s.refresh_interval, s.events.tzid, years)
        + "".join(parts)
        + END_VCALENDAR
    )


def _build(
    missing: list[tuple], fetch: Fetch, s: FeedSettings, cache: EventCache, store: EventStore | None
) -> dict[int, CachedEvent]:
    """The missing controls: read back from the store when kept there at their version, else
    serialised from their fetched rows (and kept); cached either way."""
    digests = {first_id(c): version_digest(c, s.fingerprint) for c in missing}
    kept = store.load(list(digests)) if store is not None else {}
    built: dict[int, CachedEvent] = {}
    to_build = []
    for control in missing:
        key = first_id(control)
        event = kept.get(key)
        if event is None or event.version != digests[key]:
            to_build.append(control)
            continue
        built[key] = cache.put(
            key,
            CachedEvent(control, event.head, event.alarm, event.deadline, event.timed),
            serialised=False,
        )
    if not to_build:
        return built
    ids = [exam[0] for control in to_build for exam in control]
    rows: dict[int, tuple[ExamRow, ...]] = {
        first_id(members): members for members in group_controls(fetch(ids))
    }
    new = []
    for control in to_build:
        key = first_id(control)
        members = rows[key]
        head, alarm = event_parts(members, s.events)
        deadline = booking_deadline(members, s.events.book_ahead_days)
        timed = ";TZID=" in head
        built[key] = cache.put(key, CachedEvent(control, head, alarm, deadline, timed))
        new.append(KeptEvent(key, digests[key], head, alarm, deadline, timed))
    if store is not None:
        store.save(new)
    return built


@lru_cache(maxsize=64)
def calendar_head(
    name: str, refresh_interval: str, tzid: str, years: tuple[int, int] | None
) -> str:
    """The VCALENDAR up to its events: names, refresh interval and, for timed events, the
    VTIMEZONE of the clinic's zone over `years` (icalendar's own, from the tz database)."""
    calendar = Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # As TEXT, escaped: icalendar would write NAME and X-WR-CALNAME from a str unescaped.
    calendar.add("name", vText(name))
    calendar.add("x-wr-calname", vText(name))
    # icalendar 7 leaves out VALUE=DURATION, and writes X-PUBLISHED-TTL wrongly from a
    # timedelta: the text of the configuration is passed as it is (design.md).
    interval = vDuration.from_ical(refresh_interval)
    calendar.add("refresh-interval", interval, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", refresh_interval)
    if years is not None:
        calendar.add_component(
            Timezone.from_tzid(
                tzid, first_date=date(years[0], 1, 1), last_date=date(years[1], 12, 31)
            )
        )
    return calendar.to_ical(sorted=False).decode().removesuffix(END_VCALENDAR)
