"""When digests go out: 06:30 in Oslo on working days, across both daylight-saving changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from surveillance.config import Config
from surveillance.db.models import Digest
from surveillance.reminders.mail import FileBackend
from surveillance.reminders.worker import (
    daily_trigger,
    make_scheduler,
    run_if_due,
    send_due,
    sends_on,
)
from tests.support.smtp import give_work

OSLO = ZoneInfo("Europe/Oslo")
# Europe/Oslo in 2026: summer time from Sunday 29 March (02:00 -> 03:00) to Sunday
# 25 October (03:00 -> 02:00). 06:30 in Oslo is 05:30 UTC in winter, 04:30 UTC in summer.


def config(**reminders) -> Config:
    base = Config()
    return replace(base, reminders=replace(base.reminders, **reminders))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    "now, weekdays_only, fire",
    [
        # Friday before the March change, still winter time.
        ("2026-03-27T05:00+00:00", True, "2026-03-27T06:30+01:00"),
        # Friday after the send: over the weekend of the change to Monday, summer time.
        ("2026-03-27T06:00+00:00", True, "2026-03-30T06:30+02:00"),
        # Every day: the Sunday of the change itself, after the missing hour.
        ("2026-03-28T06:00+00:00", False, "2026-03-29T06:30+02:00"),
        # Friday before the October change, summer time.
        ("2026-10-23T04:00+00:00", True, "2026-10-23T06:30+02:00"),
        # Over the weekend of the change to Monday, winter time.
        ("2026-10-23T05:00+00:00", True, "2026-10-26T06:30+01:00"),
        # Every day: the Sunday of the change, after the repeated hour.
        ("2026-10-24T05:00+00:00", False, "2026-10-25T06:30+01:00"),
    ],
)
def test_the_daily_trigger_fires_at_0630_in_oslo_across_daylight_saving(now, weekdays_only, fire):
    trigger = daily_trigger(config(weekdays_only=weekdays_only))
    fired = trigger.get_next_fire_time(None, at(now))
    assert fired == at(fire)
    assert fired.astimezone(OSLO).time() == time(6, 30)


def test_a_month_of_fire_times_across_the_spring_change():
    trigger, fired, previous = daily_trigger(Config()), [], None
    now = datetime(2026, 3, 16, tzinfo=UTC)
    while (nxt := trigger.get_next_fire_time(previous, now)) < datetime(2026, 4, 11, tzinfo=UTC):
        fired.append(nxt)
        previous = now = nxt
    assert len(fired) == 20  # four weeks of weekdays
    assert {f.astimezone(OSLO).time() for f in fired} == {time(6, 30)}
    assert {f.astimezone(OSLO).weekday() for f in fired} == {0, 1, 2, 3, 4}
    utc_hours = [(f.astimezone(UTC).date(), f.astimezone(UTC).hour) for f in fired]
    assert all(hour == (5 if day < date(2026, 3, 29) else 4) for day, hour in utc_hours)


@pytest.mark.parametrize(
    "day, options, sends",
    [
        (date(2026, 6, 1), {}, True),  # a Monday
        (date(2026, 6, 6), {}, False),  # a Saturday
        (date(2026, 6, 6), {"weekdays_only": False}, True),
        (date(2026, 5, 14), {}, False),  # Ascension Day, a public holiday
        (date(2026, 5, 14), {"skip_closed_days": False}, True),
        (date(2026, 12, 24), {}, True),  # Christmas Eve is no public holiday...
    ],
)
def test_send_days(day, options, sends):
    assert sends_on(config(**options), day) is sends


def test_a_day_the_clinic_is_closed():
    closed = replace(Config(), protocol=replace(Config().protocol, closed_days=("12-24",)))
    assert not sends_on(closed, date(2026, 12, 24))  # ...but a clinic may close on it


@pytest.mark.parametrize(
    "now, due",
    [
        ("2026-03-30T04:29+00:00", False),  # 06:29 on the first Monday of summer time
        ("2026-03-30T04:30+00:00", True),  # 06:30
        ("2026-03-27T05:29+00:00", False),  # 06:29 on the Friday before, winter time
        ("2026-03-27T05:30+00:00", True),
        ("2026-10-26T05:29+00:00", False),  # 06:29 on the first Monday of winter time
        ("2026-10-26T05:30+00:00", True),
        ("2026-10-26T22:59+00:00", True),  # 23:59 the same day: a late worker still sends
        ("2026-10-26T23:00+00:00", False),  # Tuesday 00:00 in Oslo, still Monday in UTC
    ],
)
def test_send_due_reads_the_clock_in_oslo(now, due):
    assert send_due(Config(), at(now)) is due


def test_the_scheduler_runs_one_job_at_a_time_in_oslo_time_with_hours_of_grace():
    scheduler = make_scheduler(config(misfire_grace_hours=8, check_every_minutes=7), print)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"daily", "retries"}
    for job in jobs.values():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 8 * 3600)
    assert str(jobs["daily"].trigger) == "cron[day_of_week='mon-fri', hour='6', minute='30']"
    assert jobs["daily"].trigger.timezone == OSLO and scheduler.timezone == OSLO
    assert jobs["retries"].trigger.interval == timedelta(minutes=7)


@pytest.mark.parametrize(
    "start, days",
    [
        # Thursday to Tuesday across the spring change. (The same walk as the autumn one,
        # 264 half-hour checks, 3.6 s of CPU: make test runs it, make test-fast keeps one.)
        pytest.param(
            "2026-03-26T00:00+00:00",
            [
                (date(2026, 3, 26), "05:30"),
                (date(2026, 3, 27), "05:30"),
                (date(2026, 3, 30), "04:30"),
                (date(2026, 3, 31), "04:30"),
            ],
            marks=pytest.mark.thorough,
        ),
        # Thursday to Tuesday across the autumn change.
        (
            "2026-10-22T00:00+00:00",
            [
                (date(2026, 10, 22), "04:30"),
                (date(2026, 10, 23), "04:30"),
                (date(2026, 10, 26), "05:30"),
                (date(2026, 10, 27), "05:30"),
            ],
        ),
    ],
)
def test_a_frozen_clock_walked_across_the_change_sends_each_days_digest_once_at_0630(
    engine, session, ctx, create_patient, clinic, tmp_path, start, days
):
    give_work(session, ctx, create_patient, clinic)
    backend, settings = FileBackend(tmp_path), config(send_when_empty=True)
    now = at(start)
    while now < at(start) + timedelta(days=5, hours=12):  # every half hour, as the worker checks
        run_if_due(engine, settings, backend, now)
        now += timedelta(minutes=30)
    session.rollback()
    rows = session.scalars(sa.select(Digest).order_by(Digest.day)).all()
    assert [(r.day, f"{r.sent_at.astimezone(UTC):%H:%M}") for r in rows] == days  # in UTC
    assert {r.sent_at.astimezone(OSLO).time() for r in rows} == {time(6, 30)}
    assert [r.attempts for r in rows] == [1] * 4
    assert len(list(tmp_path.glob("*.eml"))) == 4
