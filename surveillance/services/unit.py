"""The unit of work of every verb: one write transaction, stale edits refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..db import writing
from ..errors import Conflict


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit everything or nothing; a row changed meanwhile by someone else is a Conflict."""
    try:
        with writing(session):
            yield session
    except StaleDataError:
        raise Conflict("the record was changed by someone else; reload and try again") from None
