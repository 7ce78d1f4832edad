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
        if not _locked(exc):
            raise
        raise Busy("The database is busy. Nothing was saved: try again in a moment.") from None


def _locked(exc: OperationalError) -> bool:
    # SQLite's one writer: another transaction held the lock past the busy timeout.
    return getattr(exc.orig, "sqlite_errorname", None) in ("SQLITE_BUSY", "SQLITE_LOCKED") or (
        "database is locked" in str(exc.orig)
    )


def _unique_key_taken(exc: IntegrityError) -> bool:
    # The verbs look for duplicates before they insert, so on PostgreSQL (which takes no
    # write lock up front) a unique key can only be taken by a transaction running alongside.
    orig = exc.orig
    return (
        getattr(orig, "sqlstate", None) == "23505"
        or getattr(orig, "sqlite_errorname", None) == "SQLITE_CONSTRAINT_UNIQUE"
    )
