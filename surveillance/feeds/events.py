"""One calendar event per control (a patient's exams due the same day): a pure builder."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from operator import itemgetter
from typing import NamedTuple, TypeVar

from .ical import CRLF, fold, ical_date, ical_duration, ical_local, ical_utc, text_line

ALARM_TIME = time(8, 0)  # the reminder rings in the morning of the booking deadline


class ExamRow(NamedTuple):
    """One planned exam as a feed reads it: the columns of the feed's query, in order."""

    # First, in this order, the fields of a version (see VERSION_FIELDS).
    id: int
    patient_id: int
    anchor_id: int
    month: int
    state: str
    sequence: int
    updated_at: datetime
    # Then what an event shows.
    uid: str
    code: str
    due: date
    due_working_day: date
    booked_date: date | None
    booked_time: time | None
    booked_place: str | None
    coordinated_date: date | None
    local_number: int
    details: bool  # the clinic opted in: name, exam names and place may be shown
    name: str | None  # None unless details


# A version says whether an exam changed: a plain tuple of these fields (the first ones of an
# ExamRow), then the patient's last change where names are shown. Plain, not named: the
# garbage collector stops tracking plain tuples of plain values, and a cache of named ones
# it walked at every full collection made a request two to three times slower (measured).
VERSION_FIELDS = ("id", "patient_id", "anchor_id", "month", "state", "sequence", "updated_at")
_PATIENT, _ANCHOR, _MONTH, _STATE, _UPDATED = 1, 2, 3, 4, 6
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
    open_link: str  # "%(url)s"
    alarm: str  # "%(reference)s"
    exams: dict[str, str]


def make_words(_: Callable[[str], str]) -> Words:
    """The words through a gettext function (English message ids)."""
    return Words(
        control=_("Follow-up control"),
        cancelled=_("Cancelled: %(title)s"),
        book_by=_("Book by %(date)s"),
        booked=_("Booked %(when)s"),
        done=_("Done"),
        missed=_("Missed"),
        cancelled_exam=_("Cancelled"),
        coordinated=_("No booking needed: coordinated with the control of %(date)s"),
        open_link=_("Open in the dashboard: %(url)s"),
        alarm=_("Book the follow-up control of %(reference)s"),
        exams={"ct_tap": _("CT chest/abdomen/pelvis"), "cea": _("CEA"), "ct_liver": _("Liver CT")},
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


_control_key = itemgetter(_PATIENT, _ANCHOR, _MONTH)


def group_controls(rows: Iterable[E]) -> list[tuple[E, ...]]:
    """Exams gathered into controls (a patient's exams of one anchor and month); the rows come
    with each control's exams together and ordered by id (as the feed's index gives them)."""
    return [tuple(members) for _, members in groupby(rows, _control_key)]


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
    """The day a control should be booked by; None when nothing of it is left to book."""
    dues = [m.due for m in members if m.state == "open" and m.coordinated_date is None]
    return min(dues) - timedelta(days=book_ahead_days) if dues else None


def vevent(members: tuple[ExamRow, ...], alarm: bool, s: EventSettings) -> str:
    """The VEVENT of a control, with its VALARM if `alarm` and there is something to book."""
    head, valarm = event_parts(members, s)
    return head + (valarm if alarm else "") + "END:VEVENT" + CRLF


def event_parts(members: tuple[ExamRow, ...], s: EventSettings) -> tuple[str, str]:
    """The VEVENT of a control up to its END line, and its VALARM ("" when nothing is to book)."""
    live = [m for m in members if m.state != "cancelled"]
    shown = live or list(members)
    first = members[0]
    reference = s.reference(first.local_number)
    url = f"{s.base_url}/patients/{first.patient_id}"
    stamp = ical_utc(max(m.updated_at for m in members))
    start, when = _when(shown, s)
    title = _title(reference, first, shown, s.words)
    lines = [
        "BEGIN:VEVENT" + CRLF,
        fold(f"UID:{control_uid(members)}"),
        f"DTSTAMP:{stamp}{CRLF}",
        f"LAST-MODIFIED:{stamp}{CRLF}",
        f"SEQUENCE:{sum(m.sequence for m in members)}{CRLF}",
        f"STATUS:{_status(live)}{CRLF}",
        *when,
        text_line("SUMMARY", title if live else s.words.cancelled % {"title": title}),
        text_line("DESCRIPTION", _description(shown, first.details, url, s)),
        fold(f"URL:{url}"),
        "CLASS:CONFIDENTIAL" + CRLF,
        "TRANSP:TRANSPARENT" + CRLF,
    ]
    places = sorted({m.booked_place for m in shown if m.booked_place})
    if first.details and places:
        lines.append(text_line("LOCATION", "; ".join(places)))
    deadline = booking_deadline(members, s.book_ahead_days)
    alarm = (
        ""
        if deadline is None
        else _valarm(deadline, start, s.words.alarm % {"reference": reference})
    )
    return "".join(lines), alarm


def _when(shown: list[ExamRow], s: EventSettings) -> tuple[datetime, list[str]]:
    """The start and the DTSTART/DTEND lines: all day, or timed once booked with a time."""
    booked = [m.booked_date for m in shown if m.booked_date is not None]
    day = min(booked) if booked else min(m.due_working_day for m in shown)
    times = sorted(t for m in shown if m.booked_date == day and (t := m.booked_time) is not None)
    if not times:
        end = day + timedelta(days=1)  # DTEND of an all-day event is exclusive
        return datetime.combine(day, time()), [
            f"DTSTART;VALUE=DATE:{ical_date(day)}{CRLF}",
            f"DTEND;VALUE=DATE:{ical_date(end)}{CRLF}",
        ]
    start = datetime.combine(day, times[0])
    end = datetime.combine(day, times[-1]) + timedelta(minutes=s.event_minutes)
    return start, [
        f"DTSTART;TZID={s.tzid}:{ical_local(day, times[0])}{CRLF}",
        f"DTEND;TZID={s.tzid}:{ical_local(end.date(), end.time())}{CRLF}",
    ]


def _status(live: list[ExamRow]) -> str:
    if not live:
        return "CANCELLED"
    to_book = any(m.state == "open" and m.coordinated_date is None for m in live)
    return "TENTATIVE" if to_book else "CONFIRMED"


def _title(reference: str, first: ExamRow, shown: list[ExamRow], words: Words) -> str:
    if not first.details:
        return f"{reference} · {words.control}"
    exams = " + ".join(words.exams.get(m.code, m.code) for m in shown)
    return f"{reference} {first.name or ''} · {exams}"


def _description(shown: list[ExamRow], details: bool, url: str, s: EventSettings) -> str:
    """One line per exam with details; without, the states alone (no exam names)."""
    states = [_state(m, s) for m in shown]
    if details:
        lines = [f"{s.words.exams.get(m.code, m.code)}: {state}" for m, state in zip(shown, states)]
    else:
        lines = list(dict.fromkeys(states))
    return "\n".join([*lines, s.words.open_link % {"url": url}])


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


def _valarm(deadline: date, start: datetime, description: str) -> str:
    trigger = ical_duration(datetime.combine(deadline, ALARM_TIME) - start)
    return (
        "BEGIN:VALARM"
        + CRLF
        + "ACTION:DISPLAY"
        + CRLF
        + text_line("DESCRIPTION", description)
        + f"TRIGGER:{trigger}{CRLF}END:VALARM{CRLF}"
    )
