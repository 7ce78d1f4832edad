"""The scheduler: ONE process, `surveillance worker`, sends the digests at the configured time.

APScheduler 3 keeps its jobs in memory, so a run missed while the worker was down is
forgotten: at start-up the worker runs today's job once if the send time has passed, and
every few minutes it runs it again (retries due, a day missed by a busy sender); the
outbox makes every run after the first of the day send nothing new. A second worker
started by mistake waits, idle, until the first one's lock is free. The scheduler runs in
its own thread; the main thread only waits for SIGTERM or SIGINT, then stops it.
"""

from __future__ import annotations

import logging
import signal
from datetime import date, datetime, time
from functools import partial
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ..clock import clinic_today, utcnow
from ..config import Config, parse_closed_days, parse_send_time
from ..protocol.calendar import norwegian_holidays
from .daily import Outcome, SenderBusy, send_daily
from .locks import make_lock
from .mail import Backend

log = logging.getLogger(__name__)


def sends_on(config: Config, day: date) -> bool:
    """Whether the digests go out on this day (weekdays; not public holidays or closed days)."""
    if config.reminders.weekdays_only and day.weekday() >= 5:
        return False
    if not config.reminders.skip_closed_days:
        return True
    exact, annual = parse_closed_days(config.protocol.closed_days)
    return not (
        day in norwegian_holidays(day.year) or day in exact or (day.month, day.day) in annual
    )


def send_due(config: Config, now: datetime) -> bool:
    """Whether today's digests are due at `now`: a send day, at or past the send time."""
    local = now.astimezone(ZoneInfo(config.protocol.timezone))
    return sends_on(config, local.date()) and local.time() >= time(
        *parse_send_time(config.reminders.send_time)
    )


def daily_trigger(config: Config) -> CronTrigger:
    """The send time, in the clinic's time zone, whatever the server's."""
    hour, minute = parse_send_time(config.reminders.send_time)
    return CronTrigger(
        day_of_week="mon-fri" if config.reminders.weekdays_only else "*",
        hour=hour,
        minute=minute,
        timezone=ZoneInfo(config.protocol.timezone),
    )


def make_scheduler(config: Config, job) -> BackgroundScheduler:
    """The daily job at the send time, and the same job every few minutes for retries."""
    tz = ZoneInfo(config.protocol.timezone)
    # One thread: the jobs never run at once in this process.
    scheduler = BackgroundScheduler(timezone=tz, executors={"default": ThreadPoolExecutor(1)})
    grace = config.reminders.misfire_grace_hours * 3600
    options = {"coalesce": True, "max_instances": 1, "misfire_grace_time": grace}
    scheduler.add_job(job, daily_trigger(config), id="daily", **options)
    scheduler.add_job(
        job,
        IntervalTrigger(minutes=config.reminders.check_every_minutes, timezone=tz),
        id="retries",
        **options,
    )
    return scheduler


def run_if_due(
    engine: sa.Engine, config: Config, backend: Backend, now: datetime | None = None
) -> list[Outcome] | None:
    """Today's daily job, if due now; None if not due or another process is sending."""
    now = now or utcnow()
    if not send_due(config, now):
        return None
    today = clinic_today(config.protocol.timezone, now)
    try:
        outcomes = send_daily(engine, config, backend, today=today, now=now)
    except SenderBusy:
        log.info("another process is sending digests; the next check will see to %s", today)
        return None
    for outcome in outcomes:
        log.info("digest %s %s: %s %s", outcome.clinic, outcome.day, outcome.state, outcome.detail)
    log.info("digests of %s: %d changed in this run", today, len(outcomes))
    return outcomes


def run_worker(engine: sa.Engine, config: Config, backend: Backend) -> None:
    """Hold the worker lock (standing by while another worker has it) and run the scheduler."""
    lock = make_lock(engine, "worker")
    if not lock.acquire():
        log.info("another worker holds the lock; standing by")
        lock.acquire(wait=True)
    try:
        _serve(engine, config, backend)
    finally:
        lock.release()


STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def _serve(engine: sa.Engine, config: Config, backend: Backend) -> None:
    # No signal handler: one runs inside whatever the main thread was doing, and APScheduler
    # swallows exceptions (BaseException too) around job submission, while stopping it from
    # a handler can deadlock on a lock the interrupted thread holds. Instead the signals are
    # blocked before any thread starts (threads inherit the mask) and the main thread takes
    # them with sigwait, in plain code; a signal that came early waits, pending, for it.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    job = partial(run_if_due, engine, config, backend)
    scheduler = make_scheduler(config, job)
    scheduler.add_job(job, id="catch_up")  # now, once: the run missed while no worker was up
    try:
        scheduler.start()
        log.info(
            "worker started: digests at %s %s%s",
            config.reminders.send_time,
            config.protocol.timezone,
            ", weekdays" if config.reminders.weekdays_only else "",
        )
        log.info("stopping on %s", signal.Signals(signal.sigwait(STOP_SIGNALS)).name)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=True)  # a digest being sent finishes under our lock
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        log.info("worker stopped")
