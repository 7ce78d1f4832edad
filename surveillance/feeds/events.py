"""One calendar event per control (a patient's exams due the same day): a pure builder."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from typing import NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from icalendar import Alarm, Event

END_VEVENT = "END:VEVENT\r\n"
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # not the tab, nor CR and LF
ALARM_TIME = time(8, 0)  # the reminder rings in the morning of the booking deadline


class ExamRow(NamedTuple):
    """One planned exam as a feed reads it: the columns of the feed's query, in order."""

    # First, in this order, the fields of a version (see VERSION_FIELDS).
    id: int
    patient_id: int
    anchor_id: int
    month: int | None  # None: an extra exam, a control of its own by its due date
    due: date
    state: str
    sequence: int
    updated_at: datetime
    # Then what an event shows.
    uid: str
    code: str
    due_working_day: date
    booked_date: date | None
    booked_time: time | None
    booked_place: str | None
    coordinated_date: date | None
    local_number: int
    details: bool  # the clinic opted in: name, exam names and place may be shown
    name: str | None  # None unless details
    # The engine's lists the worklist shows (R10, R13, R14), on the feed's day.
    overdue: bool = False  # open past the overdue limit, and the patient not on hold
    held_until: date | None = None  # the patient is on hold (treatment planned) until then
    mdt_review: bool = False
    lost: bool = False  # lost to follow-up


@dataclass(frozen=True, slots=True)
class FeedDay:
    """The dates a feed is read and built on: its window and the limits of its lists."""

    today: date
    first: date  # the first and last working day of the controls it holds
    last: date
    late: date  # controls due before it are overdue (R10)
    cancelled_since: datetime  # controls cancelled before it have left the feed


# A version says whether an exam changed: a plain tuple of these fields (the first ones of an
# ExamRow), then the patient's last change where names are shown, then the lists (the last
# four fields of an ExamRow), then the exam's place in the feed (clinic, working day). Plain,
# not named: the
# garbage collector stops tracking plain tuples of plain values, and a cache of named ones
# it walked at every full collection made a request two to three times slower (measured).
VERSION_FIELDS = (
    "id",
    "patient_id",
    "anchor_id",
    "month",
    "due",
    "state",
    "sequence",
    "updated_at",
)
_PATIENT, _ANCHOR, _MONTH, _DUE, _STATE, _UPDATED = 1, 2, 3, 4, 5, 7
Exam = tuple  # an ExamRow, or a version
E = TypeVar("E", bound=tuple)  # the same kind of exam in and out


@dataclass(frozen=True, slots=True)
class Words:
    """The feed's words in one language."""

    control: str
    cancelled: str  # "Cancelled: %(title)s"
    book_by: str  # "%(date)s"
    booked: str  # "%(when)s"
    done: str
    missed: str
    cancelled_exam: str
    coordinated: str  # "%(date)s"
    overdue: str  # "%(date)s"
    on_hold: str  # "%(date)s"
    mdt_review: str
    lost: str
    open_link: str  # "%(url)s"
    alarm: str  # "%(reference)s"
    exams: dict[str, str]


def make_words(_: Callable[[str], str], exams: dict[str, str]) -> Words:
    """The words through a gettext function (English message ids); exam names as given."""
    return Words(
        control=_("Follow-up control"),
        cancelled=_("Cancelled: %(title)s"),
        book_by=_("Book by %(date)s"),
        booked=_("Booked %(when)s"),
        done=_("Done"),
        missed=_("Missed"),
        cancelled_exam=_("Cancelled"),
        coordinated=_("No booking needed: coordinated with the control of %(date)s"),
        overdue=_("Overdue: due %(date)s"),
        on_hold=_("On hold until %(date)s: treatment planned"),
        mdt_review=_("For MDT review"),
        lost=_("Lost to follow-up"),
        open_link=_("Open in the dashboard: %(url)s"),
        alarm=_("Book the follow-up control of %(reference)s"),
        exams=exams,
    )


@dataclass(frozen=True, slots=True)
class EventSettings:
    """What every event of a process is built with, besides its rows."""

    base_url: str
    tzid: str
    book_ahead_days: int
    event_minutes: int
    words: Words
    reference: Callable[[int], str]  # the local reference of a local number: "P-0042"


# A control: a patient's exams of one anchor, month and due date. The due date keeps extra
# exams (no month) apart, and changes no other control's members, hence no UID.
_control_key = itemgetter(_PATIENT, _ANCHOR, _MONTH, _DUE)


def group_controls(rows: Iterable[E]) -> list[tuple[E, ...]]:
    """Exams gathered into controls, in the order of each control's first exam; the rows come
    ordered by id within a control (as the feed's index gives them)."""
    controls: dict[tuple, list[E]] = {}
    for row in rows:
        controls.setdefault(_control_key(row), []).append(row)
    return [tuple(members) for members in controls.values()]


def first_id(members: tuple[Exam, ...]) -> int:
    """The id of a control's first exam: the control's key while it lives."""
    return members[0][0]


def control_uid(members: tuple[ExamRow, ...]) -> str:
    """The UID of a control: from its first exam's, so it lives as long as the control does."""
    return f"control-{members[0].uid}"


def is_shown(members: tuple[Exam, ...], cancelled_since: datetime) -> bool:
    """A control is shown while an exam of it is live, or for a while after its cancellation."""
    if any(m[_STATE] != "cancelled" for m in members):
        return True
    cancelled = max(m[_UPDATED] for m in members)
    if cancelled.tzinfo is None:  # a version as SQLite's driver reads it: UTC
        cancelled = cancelled.replace(tzinfo=UTC)
    return cancelled >= cancelled_since


def booking_deadline(members: tuple[ExamRow, ...], book_ahead_days: int) -> date | None:
    """The day a control should be booked by; None when nothing of it is left to book, or
    while the patient is on hold (R13: the MDT's treatment comes first)."""
    if any(m.held_until is not None for m in members):
        return None
    dues = [m.due for m in members if m.state == "open" and m.coordinated_date is None]
    return min(dues) - timedelta(days=book_ahead_days) if dues else None


def vevent(members: tuple[ExamRow, ...], alarm: bool, s: EventSettings) -> str:
    """The VEVENT of a control, with its VALARM if `alarm` and there is something to book."""
    head, valarm = event_parts(members, s)
    return head + (valarm if alarm else "") + END_VEVENT


def event_parts(members: tuple[ExamRow, ...], s: EventSettings) -> tuple[str, str]:
    """The VEVENT of a control up to its END line, and its VALARM ("" when nothing is to book).

    Apart, so that a cached event drops its alarm once the deadline has passed without being
    serialised again.
    """
    event, alarm = event_components(members, s)
    head = event.to_ical(sorted=False).decode().removesuffix(END_VEVENT)
    return head, "" if alarm is None else alarm.to_ical(sorted=False).decode()


def event_components(members: tuple[ExamRow, ...], s: EventSettings) -> tuple[Event, Alarm | None]:
    """The VEVENT of a control, and its VALARM when something is left to book."""
    live = [m for m in members if m.state != "cancelled"]
    shown = live or list(members)
    first = members[0]
    reference = s.reference(first.local_number)
    url = f"{s.base_url}/patients/{first.patient_id}"
    # Given, never left to icalendar: a random UID or a DTSTAMP of now would make every
    # fetch look changed (design.md, "icalendar 7").
    stamp = max(m.updated_at for m in members).astimezone(UTC)
    start, end = _when(shown, s)
    title = _title(reference, first, shown, s.words)
    event = Event()
    event.add("uid", control_uid(members))
    event.add("dtstamp", stamp)
    event.add("last-modified", stamp)
    event.add("sequence", sum(m.sequence for m in members))
    event.add("status", _status(live))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", _text(title if live else s.words.cancelled % {"title": title}))
    event.add("description", _text(_description(shown, first.details, url, s)))
    event.add("url", url)
    event.add("class", "CONFIDENTIAL")
    event.add("transp", "TRANSPARENT")
    places = sorted({m.booked_place for m in shown if m.booked_place})
    if first.details and places:
        event.add("location", _text("; ".join(places)))
    deadline = booking_deadline(members, s.book_ahead_days)
    if deadline is None:
        return event, None
    return event, _valarm(deadline, start, s.words.alarm % {"reference": reference})


def _when(shown: list[ExamRow], s: EventSettings) -> tuple[date | datetime, date | datetime]:
    """Start and end: all day, or timed in the clinic's zone once booked with a time."""
    booked = [m.booked_date for m in shown if m.booked_date is not None]
    day = min(booked) if booked else min(m.due_working_day for m in shown)
    times = sorted(t for m in shown if m.booked_date == day and (t := m.booked_time) is not None)
    if not times:
        return day, day + timedelta(days=1)  # DTEND of an all-day event is exclusive
    zone = ZoneInfo(s.tzid)
    start = datetime.combine(day, times[0], zone)
    return start, datetime.combine(day, times[-1], zone) + timedelta(minutes=s.event_minutes)


def _status(live: list[ExamRow]) -> str:
    if not live:
        return "CANCELLED"
    if any(m.held_until is not None for m in live):
        return "TENTATIVE"  # waits for the MDT's treatment
    to_book = any(m.state == "open" and m.coordinated_date is None for m in live)
    return "TENTATIVE" if to_book else "CONFIRMED"


def _title(reference: str, first: ExamRow, shown: list[ExamRow], words: Words) -> str:
    if not first.details:
        return f"{reference} · {words.control}"
    exams = " + ".join(words.exams.get(m.code, m.code) for m in shown)
    return f"{reference} {first.name or ''} · {exams}"


def _description(shown: list[ExamRow], details: bool, url: str, s: EventSettings) -> str:
    """The patient's lists, then one line per exam with details; without, the states alone
    (no exam names)."""
    states = [_state(m, s) for m in shown]
    if details:
        lines = [f"{s.words.exams.get(m.code, m.code)}: {state}" for m, state in zip(shown, states)]
    else:
        lines = list(dict.fromkeys(states))
    lists = _lists(shown, details, s.words)
    return "\n".join([*lists, *lines, s.words.open_link % {"url": url}])


def _lists(shown: list[ExamRow], details: bool, w: Words) -> list[str]:
    """The engine's lists a control is on, in words, as the worklist names them (R10). On
    hold, MDT review and lost to follow-up say something of the patient's illness: only for a
    clinic that opted in to details (design.md, privacy by default); overdue is the
    booking's own state, as the exam states below it."""
    first = shown[0]
    lines = []
    held = [m.held_until for m in shown if m.held_until is not None]
    if details and held:
        lines.append(w.on_hold % {"date": _day(held[0])})
    if details and first.mdt_review:
        lines.append(w.mdt_review)
    if details and first.lost:
        lines.append(w.lost)
    overdue = [m.due for m in shown if m.overdue and m.state != "cancelled"]
    if overdue:
        lines.append(w.overdue % {"date": _day(min(overdue))})
    return lines


def _state(m: ExamRow, s: EventSettings) -> str:
    w = s.words
    if m.state == "open" and m.coordinated_date is not None:
        return w.coordinated % {"date": _day(m.coordinated_date)}
    if m.state == "open":
        return w.book_by % {"date": _day(m.due - timedelta(days=s.book_ahead_days))}
    if m.state == "booked":
        at = f" {m.booked_time:%H:%M}" if m.booked_time else ""
        return w.booked % {"when": _day(m.booked_date) + at}
    return {"done": w.done, "missed": w.missed}.get(m.state, w.cancelled_exam)


def _day(day: date | None) -> str:
    if day is None:
        return ""
    return f"{day.day:02d}.{day.month:02d}.{day.year}"  # as the dashboard writes dates


def _text(value: str) -> str:
    """A TEXT value holds no control character but the tab (RFC 5545 3.3.11); icalendar
    escapes the rest, line breaks included."""
    return _CONTROL.sub("", value)


def _valarm(deadline: date, start: date | datetime, description: str) -> Alarm:
    """Rings at eight in the morning of the booking deadline (relative to the event's start)."""
    local_start = start.replace(tzinfo=None) if isinstance(start, datetime) else start
    if not isinstance(local_start, datetime):
        local_start = datetime.combine(local_start, time())
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", _text(description))
    alarm.add("trigger", datetime.combine(deadline, ALARM_TIME) - local_start)
    return alarm
