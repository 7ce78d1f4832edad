"""RFC 5545 by hand: content lines folded at 75 octets, TEXT escaped, dates and durations."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

CRLF = "\r\n"
LINE_OCTETS = 75
# TEXT may hold no control character but the tab (RFC 5545 3.3.11); line breaks are escaped.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_SPECIAL = re.compile(r"[\\;,\n\r\x00-\x08\x0b-\x1f\x7f]")
_ESCAPES = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n"})


def escape_text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and every line break escaped, controls dropped."""
    if not _SPECIAL.search(value):
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", value).translate(_ESCAPES)


def fold(line: str) -> str:
    """A content line cut into CRLF-ended lines of at most 75 octets, never inside a character."""
    if len(line) <= LINE_OCTETS and line.isascii():
        return line + CRLF
    data = line.encode()
    chunks, start, limit = [], 0, LINE_OCTETS
    while len(data) - start > limit:
        end = start + limit
        while data[end] & 0xC0 == 0x80:  # a continuation byte: cut before its character
            end -= 1
        chunks.append(data[start:end])
        start, limit = end, LINE_OCTETS - 1  # a continuation line starts with a space
    chunks.append(data[start:])
    return b"\r\n ".join(chunks).decode() + CRLF


def text_line(name: str, value: str) -> str:
    """A property with a TEXT value, escaped and folded."""
    return fold(f"{name}:{escape_text(value)}")


def ical_date(day: date) -> str:
    """A DATE value: 20260415."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def ical_local(day: date, at: time) -> str:
    """A local DATE-TIME value (with a TZID parameter): 20260415T101500."""
    return f"{ical_date(day)}T{at.hour:02d}{at.minute:02d}{at.second:02d}"


def ical_utc(moment: datetime) -> str:
    """A UTC DATE-TIME value: 20260415T081500Z."""
    moment = moment.astimezone(UTC)
    return f"{ical_date(moment)}T{moment.hour:02d}{moment.minute:02d}{moment.second:02d}Z"


def ical_duration(delta: timedelta) -> str:
    """A DURATION value in days, hours and minutes: -P41DT16H, PT8H."""
    sign, delta = ("-", -delta) if delta < timedelta(0) else ("", delta)
    minutes = delta.seconds // 60
    clock = f"{minutes // 60}H" * bool(minutes // 60) + f"{minutes % 60}M" * bool(minutes % 60)
    days = f"{delta.days}D" if delta.days or not clock else ""
    return f"{sign}P{days}" + (f"T{clock}" if clock else "")
