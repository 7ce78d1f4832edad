"""The outbox: one row per clinic and day, its Message-ID the key; pending, sent, failed.

A row is written before anything is sent, so a crash loses no digest; it is claimed (its
attempt counted) before the server is called and marked sent after, so a crash in between
leaves it pending and the next run sends it again under the same Message-ID: the one
duplicate mail can make, and a recognisable one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..config import RemindersConfig
from ..db.choices import DigestState
from ..db.models import Clinic, Digest
from .snapshot import Snapshot

# What new_message_id makes: recognisable in any mailbox as one clinic's digest of one day.
MESSAGE_ID = re.compile(r"<digest\.\d{8}\.[A-Za-z0-9-]+\.[0-9a-f]{16}@[^<>@\s]+>")


def new_message_id(clinic_code: str, day: date, sender: str) -> str:
    """A Message-ID for a clinic's digest of a day, unique across installations too."""
    domain = sender.strip().rstrip(">").rpartition("@")[2] or "localhost"
    code = re.sub(r"[^A-Za-z0-9-]", "-", clinic_code)
    return f"<digest.{day:%Y%m%d}.{code}.{secrets.token_hex(8)}@{domain}>"


def find(session: Session, clinic_id: int, day: date) -> Digest | None:
    """The clinic's digest of the day, if made."""
    return session.scalar(sa.select(Digest).where(Digest.clinic_id == clinic_id, Digest.day == day))


def add(
    session: Session,
    clinic: Clinic,
    day: date,
    snapshot: Snapshot,
    *,
    state: str,
    now: datetime,
    sender: str,
) -> Digest:
    """A new outbox row for the clinic's day (the caller holds the sender lock)."""
    row = Digest(
        clinic_id=clinic.id,
        day=day,
        state=state,
        counts=snapshot.counts,
        local_references=snapshot.references,
        next_attempt_at=now,
        created_at=now,
        message_id=new_message_id(clinic.code, day, sender),
    )
    session.add(row)
    return row


def previous(session: Session, clinic_id: int, day: date) -> Digest | None:
    """The clinic's last digest before `day`, sent or not: the change is counted from it."""
    return session.scalar(
        sa.select(Digest)
        .where(Digest.clinic_id == clinic_id, Digest.day < day)
        .order_by(Digest.day.desc())
        .limit(1)
    )


def expire(session: Session, today: date, now: datetime) -> list[Digest]:
    """Pending digests of past days fail: yesterday's counts are no use tomorrow."""
    rows = session.scalars(
        sa.select(Digest).where(Digest.state == DigestState.PENDING, Digest.day < today)
    ).all()
    for row in rows:
        mark_failed(
            row,
            now,
            "expired: not sent on its day"
            + (f" (last error: {row.last_error})" if row.last_error else ""),
        )
    return list(rows)


def due_ids(session: Session, day: date, now: datetime, clinic_id: int | None = None) -> list[int]:
    """The pending digests of the day whose (next) attempt is due."""
    query = (
        sa.select(Digest.id)
        .where(
            Digest.state == DigestState.PENDING, Digest.day == day, Digest.next_attempt_at <= now
        )
        .order_by(Digest.id)
    )
    if clinic_id is not None:
        query = query.where(Digest.clinic_id == clinic_id)
    return list(session.scalars(query))


def claim(session: Session, digest_id: int, now: datetime) -> Digest | None:
    """Count an attempt on a due digest before calling the server; None if no longer due."""
    claimed = _rows_changed(
        session,
        sa.update(Digest)
        .where(
            Digest.id == digest_id,
            Digest.state == DigestState.PENDING,
            Digest.next_attempt_at <= now,
        )
        .values(attempts=Digest.attempts + 1, claimed_at=now)
        .execution_options(synchronize_session=False),
    )
    if not claimed:
        return None
    row = session.get(Digest, digest_id)
    session.refresh(row)
    return row


def mark_sent(row: Digest, now: datetime, recipients: list[str], refused: dict[str, str]) -> None:
    """The server took it; recipients it refused are noted as the error."""
    row.state, row.sent_at, row.next_attempt_at = DigestState.SENT, now, None
    row.recipients = ", ".join(recipients)
    row.last_error = (
        "refused: " + "; ".join(f"{a}: {e}" for a, e in refused.items()) if refused else None
    )


def mark_retry(row: Digest, now: datetime, error: str, config: RemindersConfig) -> None:
    """A temporary failure: try again after a growing pause, or give up after the last attempt."""
    if row.attempts >= config.max_attempts:
        mark_failed(row, now, f"gave up after {row.attempts} attempts: {error}")
        return
    row.last_error = error
    row.next_attempt_at = now + backoff(row.attempts, config)


def mark_failed(row: Digest, now: datetime, error: str) -> None:
    """A permanent failure, kept with its error for the admins."""
    row.state, row.last_error, row.next_attempt_at = DigestState.FAILED, error, None


def backoff(attempts: int, config: RemindersConfig) -> timedelta:
    """The pause after the n-th failed attempt: doubling from the first, up to the maximum."""
    minutes = config.retry_first_minutes * 2 ** min(attempts - 1, 16)
    return timedelta(minutes=min(minutes, config.retry_max_minutes))


def retry_failed(
    session: Session, day: date, now: datetime, clinic_ids: Collection[int] | None = None
) -> int:
    """Failed digests of the day become pending again (after the cause was fixed)."""
    query = (
        sa.update(Digest)
        .where(Digest.state == DigestState.FAILED, Digest.day == day)
        .values(state=DigestState.PENDING, attempts=0, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    if clinic_ids is not None:
        query = query.where(Digest.clinic_id.in_(sorted(clinic_ids)))
    return _rows_changed(session, query)


def _rows_changed(session: Session, statement: sa.Update) -> int:
    """How many rows an UPDATE changed (an UPDATE's result is a CursorResult)."""
    return cast(sa.CursorResult, session.execute(statement)).rowcount


def recent(
    session: Session, since: date, clinic_ids: Collection[int] | None = None
) -> list[Digest]:
    """Digests from `since` on, newest first."""
    query = (
        sa.select(Digest)
        .join(Digest.clinic)
        .where(Digest.day >= since)
        .order_by(Digest.day.desc(), Clinic.code)
    )
    if clinic_ids is not None:
        query = query.where(Digest.clinic_id.in_(sorted(clinic_ids)))
    return list(session.scalars(query))
