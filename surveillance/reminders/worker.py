"""The scheduler: ONE process, `surveillance worker`, sends the digests at the configured time.

APScheduler 3 keeps its jobs in memory, so a run missed while the worker was down is
forgotten: at start-up the worker runs today's job once if the send time has passed, and
every few minutes it runs it again (retries due, a day missed by a busy sender); the
outbox makes every run after the first of the day send nothing new. A second worker
on another node waits, idle, trying the lock every `reminders.lock_check_seconds`, and takes
over within that time once the holder is gone; the holder checks its lock as often and steps
down when the database connection that held it is lost (a PostgreSQL restart frees every
advisory lock), then stands by like any other worker. The scheduler runs in its own thread;
the main thread only waits for SIGTERM or SIGINT, and checks the lock between.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
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
from .locks import AdvisoryLock, FileLock, make_lock
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
    engine: sa.Engine,
    config: Config,
    backend: Backend,
    now: datetime | None = None,
    keep_going: Callable[[], bool] = lambda: True,
) -> list[Outcome] | None:
    """Today's daily job, if due now; None if not due or another process is sending."""
    now = now or utcnow()
    if not send_due(config, now):
        return None
    today = clinic_today(config.protocol.timezone, now)
    try:
        outcomes = send_daily(engine, config, backend, today=today, now=now, keep_going=keep_going)
    except SenderBusy:
        log.info("another process is sending digests; the next check will see to %s", today)
        return None
    for outcome in outcomes:
        log.info("digest %s %s: %s %s", outcome.clinic, outcome.day, outcome.state, outcome.detail)
    log.info("digests of %s: %d changed in this run", today, len(outcomes))
    return outcomes


def run_worker(engine: sa.Engine, config: Config, backend: Backend) -> None:
    """Run the scheduler while holding the worker lock; stand by while another worker has it."""
    # No signal handler: one runs inside whatever the main thread was doing, and APScheduler
    # swallows exceptions (BaseException too) around job submission, while stopping it from
    # a handler can deadlock on a lock the interrupted thread holds. Instead the signals are
    # blocked before any thread starts (threads inherit the mask) and the main thread takes
    # them with sigtimedwait, in plain code; a signal that came early waits, pending, for it.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    lock = make_lock(engine, "worker")
    every = config.reminders.lock_check_seconds
    try:
        standing_by = False
        while True:
            if _take(lock):
                standing_by = False
                if _serve(engine, config, backend, lock):
                    return
                lock.release()  # closes the dead connection
                log.warning("lost the worker lock (database connection lost); standing by")
            elif not standing_by:
                log.info("another worker holds the lock; standing by")
                standing_by = True
            if _stop_signal(every):
                return
    finally:
        lock.release()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        log.info("worker stopped")


STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def _not(event: threading.Event) -> Callable[[], bool]:
    return lambda: not event.is_set()


def _take(lock: AdvisoryLock | FileLock) -> bool:
    """Try the lock once; a database away is a lock not taken (tried again later)."""
    try:
        return lock.acquire()
    except sa.exc.DBAPIError as exc:
        log.warning("cannot reach the database for the worker lock: %s", type(exc.orig).__name__)
        return False


def _stop_signal(seconds: float) -> bool:
    """Wait up to `seconds` for SIGTERM or SIGINT; whether one came."""
    received = signal.sigtimedwait(STOP_SIGNALS, seconds)
    if received is not None:
        log.info("stopping on %s", signal.Signals(received.si_signo).name)
    return received is not None


def _serve(
    engine: sa.Engine, config: Config, backend: Backend, lock: AdvisoryLock | FileLock
) -> bool:
    """The scheduler, until a stop signal (True) or the lock is lost (False)."""
    stepping_down = threading.Event()
    job = partial(run_if_due, engine, config, backend, keep_going=_not(stepping_down))
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
        while not _stop_signal(config.reminders.lock_check_seconds):
            if not lock.held():
                return False
        return True
    finally:
        stepping_down.set()
        if scheduler.running:
            scheduler.shutdown(wait=True)  # a digest being sent finishes first
