"""FHIR bulk `$export` jobs (Bulk Data Access IG): kicked off by a token, run in a thread of
the node that received the kick-off, kept in the database with their files.

Any node answers a job's status and serves its files from the database. A node lost while
running leaves a job whose heartbeat stops: its status then reports it failed (the client
kicks off again), never "in progress" for ever. Jobs expire after EXPIRES_AFTER and are
deleted with their files by the next kick-off or status request.
"""

from __future__ import annotations

import io
import logging
import secrets
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..db.models import ExportFile, ExportJob
from ..services.audit import Actor, record_event
from ..services.transactions import transaction
from .codes import Site
from .export import write_ndjson
from .tokens import TokenScope

log = logging.getLogger(__name__)
EXPIRES_AFTER = timedelta(hours=24)
# A running job's heartbeat is written after every chunk of patients (a few seconds' work):
# one this old means its node stopped.
STALE_AFTER = timedelta(minutes=10)
NODE_LOST = "The export stopped with the node that ran it: kick it off again."


class Cancelled(Exception):
    """The job was deleted (DELETE on its status URL) while it ran."""


class AlreadyRunning(Exception):
    """The token has an export running: one at a time, since each holds a clinic's files."""


def kick_off(session: Session, scope: TokenScope, types: list[str], request_url: str) -> ExportJob:
    """A new running job of the token's clinic; expired jobs are deleted on the way."""
    now = utcnow()
    with transaction(session):
        delete_expired(session, now)
        running = sa.select(ExportJob.id).where(
            ExportJob.token_id == scope.id,
            ExportJob.state == "running",
            ExportJob.heartbeat_at >= now - STALE_AFTER,
        )
        if session.scalar(running.limit(1)) is not None:
            raise AlreadyRunning
        job = ExportJob(
            key=secrets.token_hex(16),
            token_id=scope.id,
            clinic_id=scope.clinic_id,
            types=",".join(types),
            request_url=request_url,
            state="running",
            progress="",
            transaction_time=now,
            heartbeat_at=now,
            expires_at=now + EXPIRES_AFTER,
        )
        session.add(job)
        session.flush()
        record_event(session, scope.actor, "fhir.bulk_export", types=job.types, job=job.key)
    return job


def run(sessions: Callable[[], Session], job_id: int, site: Site, actor: Actor) -> None:
    """Write the job's NDJSON files into the database (a thread's work: its own session)."""
    with sessions() as session:
        job = session.get(ExportJob, job_id)
        if job is None:
            return
        clinic_id, types, key = job.clinic_id, job.types.split(","), job.key
        session.rollback()
        outputs = {kind: io.StringIO() for kind in types}
        try:
            counts = write_ndjson(
                session, clinic_id, site, outputs, after_chunk=lambda n: _beat(sessions, job_id, n)
            )
            _finish(session, actor, job_id, key, counts, outputs)
        except Cancelled:
            return
        # A failed job must say so, whatever failed (and the thread has no one to raise to).
        except Exception as exc:  # noqa: BLE001
            # Only the kind of error: its message may quote patient data (a validation error's
            # input, a statement's parameters), and the status answer and the log must not.
            kind = type(exc).__name__
            _fail(sessions, job_id, f"The export failed ({kind}): kick it off again.")
            trace = "".join(traceback.format_tb(exc.__traceback__))
            log.error("FHIR bulk export %s failed: %s\n%s", key, kind, trace)


def _beat(sessions: Callable[[], Session], job_id: int, patients: int) -> None:
    with sessions() as session, transaction(session):
        job = session.get(ExportJob, job_id)
        if job is None:
            raise Cancelled
        job.heartbeat_at, job.progress = utcnow(), f"{patients} patients written"


def _finish(
    session: Session, actor: Actor, job_id: int, key: str, counts: dict, outputs: dict
) -> None:
    with transaction(session):
        job = session.get(ExportJob, job_id)
        if job is None:
            raise Cancelled
        for kind, lines in counts.items():
            data = outputs[kind].getvalue().encode("utf-8")
            session.add(ExportFile(job_id=job_id, resource_type=kind, lines=lines, data=data))
        job.state, job.heartbeat_at, job.progress = "done", utcnow(), "done"
        record_event(session, actor, "fhir.bulk_export_done", job=key, **counts)


def _fail(sessions: Callable[[], Session], job_id: int, error: str) -> None:
    with sessions() as session, transaction(session):
        job = session.get(ExportJob, job_id)
        if job is not None:
            job.state, job.error = "failed", error


def find_job(session: Session, scope: TokenScope, key: str) -> ExportJob | None:
    """The token's job by its key (None: unknown, expired or another token's); a running job
    whose node stopped is marked failed first."""
    now = utcnow()
    with transaction(session):
        delete_expired(session, now)
        job = session.scalar(
            sa.select(ExportJob).where(ExportJob.key == key, ExportJob.token_id == scope.id)
        )
        if job is not None and job.state == "running" and job.heartbeat_at < now - STALE_AFTER:
            job.state, job.error = "failed", NODE_LOST
    return job


def delete_job(session: Session, scope: TokenScope, key: str) -> bool:
    """Cancel a running job or remove a finished one with its files; False if not found."""
    with transaction(session):
        job = session.scalar(
            sa.select(ExportJob).where(ExportJob.key == key, ExportJob.token_id == scope.id)
        )
        if job is None:
            return False
        _delete(session, [job.id])
        record_event(session, scope.actor, "fhir.bulk_delete", job=key)
    return True


def job_file(session: Session, scope: TokenScope, key: str, kind: str) -> ExportFile | None:
    """A finished job's file of one type, for the token that kicked it off; audited."""
    job = find_job(session, scope, key)
    if job is None or job.state != "done":
        return None
    found = session.scalar(
        sa.select(ExportFile).where(ExportFile.job_id == job.id, ExportFile.resource_type == kind)
    )
    if found is not None:
        with transaction(session):
            record_event(
                session, scope.actor, "fhir.bulk_download", job=key, type=kind, lines=found.lines
            )
    return found


def job_files(session: Session, job: ExportJob) -> list[tuple[str, int]]:
    """(type, lines) of a finished job's non-empty files, in the order of its types."""
    rows = dict(
        session.execute(
            sa.select(ExportFile.resource_type, ExportFile.lines).where(ExportFile.job_id == job.id)
        ).all()
    )
    return [(kind, rows[kind]) for kind in job.types.split(",") if rows.get(kind)]


def delete_expired(session: Session, now: datetime) -> None:
    """Delete the jobs past their expiry, with their files."""
    expired = list(session.scalars(sa.select(ExportJob.id).where(ExportJob.expires_at < now)))
    if expired:
        _delete(session, expired)


def _delete(session: Session, job_ids: list[int]) -> None:
    # The files first: SQLite's cascade depends on its foreign-key pragma.
    session.execute(sa.delete(ExportFile).where(ExportFile.job_id.in_(job_ids)))
    session.execute(sa.delete(ExportJob).where(ExportJob.id.in_(job_ids)))
