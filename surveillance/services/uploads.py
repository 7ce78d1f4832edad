"""Files kept between an import's preview and its confirmation, in the database.

In the database rather than on a node's disk, so that a confirmation that reaches another
node behind the load balancer finds the file. A kept file is bound to the user who sent
it, expires after a day, and is deleted by whoever claims it first (a double click, or two
nodes, import it once).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import Clinic, KeptUpload
from ..errors import InputError
from .transactions import transaction

KEEP = timedelta(hours=24)
KEPT_PER_USER = 5  # a user's older kept files are dropped: the table cannot grow without bound


@dataclass(frozen=True)
class Upload:
    """A checked file kept between the preview and the confirmation."""

    user_id: int
    clinic: str
    filename: str
    data: bytes


def keep_upload(session: Session, upload: Upload, now: datetime, max_bytes: int) -> str:
    """Keep the file for its user and clinic; return the token that claims it."""
    if len(upload.data) > max_bytes:
        raise InputError("file", upload.filename, "is larger than %(limit)d bytes", limit=max_bytes)
    token = secrets.token_urlsafe(24)
    with transaction(session):
        sweep_uploads(session, now)
        clinic_id = session.scalar(sa.select(Clinic.id).where(Clinic.code == upload.clinic))
        session.add(
            KeptUpload(
                token_hash=_hash(token),
                user_id=upload.user_id,
                clinic_id=clinic_id,
                filename=upload.filename[:255],
                size=len(upload.data),
                data=upload.data,
                created_at=now,
                expires_at=now + KEEP,
            )
        )
        _drop_oldest(session, upload.user_id)
    return token


def claim_upload(session: Session, user_id: int, token: str, now: datetime) -> Upload | None:
    """Take the user's kept file (deleting it); None if it is not theirs, or gone, or expired."""
    with transaction(session):
        sweep_uploads(session, now)
        row = session.scalar(
            sa.select(KeptUpload).where(
                KeptUpload.token_hash == _hash(token), KeptUpload.user_id == user_id
            )
        )
        if row is None:
            return None
        upload = Upload(row.user_id, row.clinic.code, row.filename, row.data)
        # Whoever deletes the row imports: a concurrent claim waits for our commit, then
        # deletes nothing (rowcount 0).
        deleted = _delete(session, KeptUpload.id == row.id)
    return upload if deleted == 1 else None


def sweep_uploads(session: Session, now: datetime) -> int:
    """Delete expired kept files (inside the caller's transaction); return how many."""
    return _delete(session, KeptUpload.expires_at <= now)


def _drop_oldest(session: Session, user_id: int) -> None:
    session.flush()
    kept = sa.select(KeptUpload.id).where(KeptUpload.user_id == user_id)
    newest = kept.order_by(KeptUpload.id.desc()).limit(KEPT_PER_USER)
    session.execute(
        sa.delete(KeptUpload).where(KeptUpload.user_id == user_id, KeptUpload.id.not_in(newest))
    )


def _delete(session: Session, condition: sa.ColumnElement[bool]) -> int:
    result = session.execute(sa.delete(KeptUpload).where(condition))
    return cast(sa.CursorResult, result).rowcount


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
