"""The daily job: make each clinic's digest of the day once, send what is due. Idempotent.

The scheduler and `surveillance reminders send` call `send_daily` alike. A rerun of the
same day sends nothing new; a dry run records nothing and delivers nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..config import Config
from ..db import make_sessionmaker, writing
from ..db.choices import DigestState
from ..db.models import Clinic, Digest
from ..services import Context
from ..services.lookups import clinic_by_code
from ..services.refresh import refresh_patients
from . import outbox
from .digest import DigestContent, compose, has_news, render, worklist_url
from .locks import make_lock
from .mail import Backend, PermanentFailure, TemporaryFailure
from .recipients import clinic_recipients
from .snapshot import ACTOR, Snapshot, take_snapshot

log = logging.getLogger(__name__)


class SenderBusy(RuntimeError):
    """Another process is sending digests: nothing was done."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one clinic's digest in this run."""

    clinic: str
    day: date
    state: str  # sent, retry, failed, skipped (nothing to say), would_send, already_<state>
    detail: str = ""
    message: EmailMessage | None = None  # dry runs only


def send_daily(
    engine: sa.Engine,
    config: Config,
    backend: Backend | None,
    *,
    today: date,
    now: datetime,
    clinic_code: str | None = None,
    dry_run: bool = False,
    retry_failed: bool = False,
    keep_going: Callable[[], bool] = lambda: True,
) -> list[Outcome]:
    """Make the day's missing digests and send every due one; a dry run only shows them.

    `keep_going` is asked before each digest: a worker that lost its lock stops after the
    digest in hand instead of sending the rest beside the worker that took over.
    """
    sessions = make_sessionmaker(engine)
    if dry_run:
        with sessions() as session:
            return [
                dry_run_outcome(session, config, clinic, today, now)
                for clinic in _clinics(session, clinic_code)
            ]
    assert backend is not None, "only a dry run goes without a mail backend"
    lock = make_lock(engine, "sender")
    if not lock.acquire():
        raise SenderBusy("another process is sending digests; nothing was done")
    try:
        with sessions() as session:
            return _run(session, config, backend, today, now, clinic_code, retry_failed, keep_going)
    finally:
        lock.release()


def _run(
    session: Session,
    config: Config,
    backend: Backend,
    today: date,
    now: datetime,
    clinic_code: str | None,
    retry_failed: bool,
    keep_going: Callable[[], bool],
) -> list[Outcome]:
    clinics = _clinics(session, clinic_code)
    with writing(session):
        expired = outbox.expire(session, today, now)
        if retry_failed:
            for clinic in clinics:
                outbox.retry_failed(session, today, now, [clinic.id])
    outcomes = [
        Outcome(row.clinic.code, row.day, "failed", row.last_error or "") for row in expired
    ]
    for clinic in clinics:
        if made := _make(session, config, clinic, today, now):
            outcomes.append(made)
    clinic_id = clinics[0].id if clinic_code else None
    for digest_id in outbox.due_ids(session, today, now, clinic_id):
        if not keep_going():
            break
        if outcome := send_one(session, config, backend, digest_id, now):
            outcomes.append(outcome)
    return outcomes


def _clinics(session: Session, clinic_code: str | None) -> list[Clinic]:
    if clinic_code:
        return [clinic_by_code(session, clinic_code)]
    return list(session.scalars(sa.select(Clinic).order_by(Clinic.code)))


def _make(
    session: Session, config: Config, clinic: Clinic, today: date, now: datetime
) -> Outcome | None:
    """The clinic's digest of the day, unless made already or nobody gets it."""
    # Holds lapse and controls fall overdue with the date alone (R13, R14): store today's
    # answer for every clinic, whether or not anyone gets its e-mail.
    refresh_patients(session, Context.from_config(config, ACTOR, today), [clinic.id])
    if outbox.find(session, clinic.id, today) or not clinic_recipients(session, clinic):
        return None
    snapshot = take_snapshot(session, config, clinic, today)
    state = DigestState.PENDING if _worth_sending(config, snapshot) else DigestState.SKIPPED
    with writing(session):
        outbox.add(
            session, clinic, today, snapshot, state=state, now=now, sender=config.mail.sender
        )
    return (
        Outcome(clinic.code, today, "skipped", "nothing to do")
        if state == DigestState.SKIPPED
        else None
    )


def _worth_sending(config: Config, snapshot: Snapshot) -> bool:
    return has_news(snapshot.counts) or config.reminders.send_when_empty


def send_one(
    session: Session, config: Config, backend: Backend, digest_id: int, now: datetime
) -> Outcome | None:
    """Claim one due digest, send it, and record what the server said."""
    with writing(session):
        row = outbox.claim(session, digest_id, now)
    if row is None:
        return None
    error, state = "", "sent"
    day, clinic_id = row.day, row.clinic_id  # a rollback expires the row: log without a query
    try:
        recipients = clinic_recipients(session, row.clinic)
        if not recipients:
            raise PermanentFailure("the clinic has no digest recipients any more")
        message = message_for(session, config, row, recipients, now)
        session.commit()  # ends the read: no transaction stays open while the server talks
        delivery = backend.send(message, recipients)
    except TemporaryFailure as exc:
        error, state = str(exc), "retry"
    except PermanentFailure as exc:
        error, state = str(exc), "failed"
    except Exception as exc:  # a bug must not lose the digest: retried, then failed
        session.rollback()
        log.exception("digest %s of clinic %s", day, clinic_id)
        error, state = f"{type(exc).__name__}: {exc}", "retry"
    with writing(session):
        if state == "sent":
            outbox.mark_sent(row, now, recipients, delivery.refused)
        elif state == "retry":
            outbox.mark_retry(row, now, error, config.reminders)
        else:
            outbox.mark_failed(row, now, error)
    return _outcome(row)


def _outcome(row: Digest) -> Outcome:
    if row.state == DigestState.PENDING:
        return Outcome(
            row.clinic.code,
            row.day,
            "retry",
            f"{row.last_error}; next attempt {row.next_attempt_at:%Y-%m-%d %H:%M} UTC",
        )
    detail = row.recipients if row.state == DigestState.SENT else ""
    return Outcome(
        row.clinic.code,
        row.day,
        row.state,
        "; ".join(filter(None, [detail and f"to {detail}", row.last_error or ""])),
    )


def message_for(
    session: Session, config: Config, row: Digest, recipients: list[str], now: datetime
) -> EmailMessage:
    """The e-mail of an outbox row, as it is sent (and resent: same Message-ID)."""
    # References only while the clinic still opts in: withdrawing the opt-in takes effect at once.
    references = row.local_references if row.clinic.digest_include_references else None
    return _message(
        session,
        config,
        row.clinic,
        row.day,
        row.counts,
        references,
        row.message_id,
        recipients,
        now,
    )


def _message(
    session: Session,
    config: Config,
    clinic: Clinic,
    day: date,
    counts: dict,
    references: dict | None,
    message_id: str,
    recipients: list[str],
    now: datetime,
) -> EmailMessage:
    before = outbox.previous(session, clinic.id, day)
    content = DigestContent(
        clinic.code,
        clinic.name,
        day,
        counts,
        worklist_url(config.web.base_url, clinic.id),
        before.day if before else None,
        before.counts if before else None,
        references,
    )
    rendered = render(content, config.reminders.language)
    return compose(
        rendered,
        sender=config.mail.sender,
        recipients=recipients,
        message_id=message_id,
        date=now.astimezone(ZoneInfo(config.protocol.timezone)),
        language=config.reminders.language,
    )


def dry_run_outcome(
    session: Session, config: Config, clinic: Clinic, today: date, now: datetime
) -> Outcome:
    """What a run would do for the clinic today, with the e-mail it would send."""
    recipients = clinic_recipients(session, clinic)
    row = outbox.find(session, clinic.id, today)
    if row is not None and row.state != DigestState.PENDING:
        return Outcome(clinic.code, today, f"already_{row.state}", row.last_error or "")
    if not recipients:
        return Outcome(clinic.code, today, "no_recipients")
    if row is not None:
        return Outcome(
            clinic.code,
            today,
            "would_send",
            "pending",
            message_for(session, config, row, recipients, now),
        )
    snapshot = take_snapshot(session, config, clinic, today)
    if not _worth_sending(config, snapshot):
        return Outcome(clinic.code, today, "skipped", "nothing to do")
    message_id = outbox.new_message_id(clinic.code, today, config.mail.sender)
    return Outcome(
        clinic.code,
        today,
        "would_send",
        "",
        _message(
            session,
            config,
            clinic,
            today,
            snapshot.counts,
            snapshot.references,
            message_id,
            recipients,
            now,
        ),
    )
