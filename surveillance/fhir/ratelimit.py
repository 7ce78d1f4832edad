"""Requests per token and minute, counted in the shared database: one limit per token,
however many nodes serve it.

Fixed windows (a minute from the epoch's): one upsert per request, atomic on SQLite and
PostgreSQL alike. A burst straddling two windows may reach twice the limit in a minute;
that is the price of one statement instead of a row per request.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..db.models import ApiRateCount
from ..services.transactions import transaction

WINDOW = 60  # seconds


def wait(session: Session, token_id: int, limit: int, now: float) -> float:
    """0 if the token's request may go ahead (it is counted); else the seconds to wait."""
    window = int(now // WINDOW)
    with transaction(session):
        requests: int = session.execute(_count(session, token_id, window)).scalar_one()
        if requests == 1:  # a new window: the token's older ones are done with
            session.execute(
                sa.delete(ApiRateCount).where(
                    ApiRateCount.token_id == token_id, ApiRateCount.window < window
                )
            )
    return 0.0 if requests <= limit else (window + 1) * WINDOW - now


def _count(session: Session, token_id: int, window: int):
    """INSERT ... ON CONFLICT DO UPDATE requests + 1 RETURNING requests, in the dialect's words."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ApiRateCount).values(token_id=token_id, window=window, requests=1)
    return statement.on_conflict_do_update(
        index_elements=[ApiRateCount.token_id, ApiRateCount.window],
        set_={"requests": ApiRateCount.requests + 1},
    ).returning(ApiRateCount.requests)
