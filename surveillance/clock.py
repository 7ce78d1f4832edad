"""The clinic's date: "today" is a date in the clinic's time zone, whatever the server's."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def clinic_today(tz: str = "Europe/Oslo", now: datetime | None = None) -> date:
    """Today's date in the clinic's time zone."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(tz)).date()


def utcnow() -> datetime:
    """The current time in UTC, as stored timestamps are."""
    return datetime.now(UTC)
