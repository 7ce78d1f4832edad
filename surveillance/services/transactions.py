"""The unit of work of every verb: one write transaction, stale edits refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..db import writing
from ..errors import Busy, Conflict


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit everything or nothing; a row changed meanwhile by someone else is a Conflict."""
    try:
        with writing(session):
            yield session
    except StaleDataError:
        raise Conflict(
            "The record was changed by someone else. Reload the page and try again."
        ) from None
    except IntegrityError as exc:
        if not _unique_key_taken(exc):
            raise
        raise Conflict(
            "Someone else saved at the same moment. Reload the page and try again."
        ) from None
    except OperationalError as exc:
        if _deadlocked(exc):
            raise Conflict(
                "Someone else saved at the same moment. Reload the page and try again."
            ) from None
        if not _locked(exc):
            raise
        raise Busy("The database is busy. Nothing was saved: try again in a moment.") from None


def _locked(exc: OperationalError) -> bool:
    # SQLite's one writer: another transaction held the lock past the busy timeout.
    return getattr(exc.orig, "sqlite_errorname", None) in ("SQLITE_BUSY", "SQLITE_LOCKED") or (
        "database is locked" in str(exc.orig)
    )


def _deadlocked(exc: OperationalError) -> bool:
    # PostgreSQL ended one of two transactions that waited for each other (40P01), or could
    # not serialise it (40001). Every write in a clinic takes its list stamp's row (migration
    # 0018), so two saves of one patient whose statements come in opposite orders (an exam then
    # the patient; the patient alone) can meet so: the other one was saved, this one was not.
    return getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")


def _unique_key_taken(exc: IntegrityError) -> bool:
    # The verbs look for duplicates before they insert, so on PostgreSQL (which takes no
    # write lock up front) a unique key can only be taken by a transaction running alongside.
    orig = exc.orig
    return (
        getattr(orig, "sqlstate", None) == "23505"
        or getattr(orig, "sqlite_errorname", None) == "SQLITE_CONSTRAINT_UNIQUE"
    )
