"""The PostgreSQL server of the tests, or a visible skip (a failure in CI) without one."""

from __future__ import annotations

import os
import time

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("SURVEILLANCE_REQUIRE_POSTGRES") == "1"


def postgres_or_skip() -> str:
    """The PostgreSQL server of the tests; a skip, or in CI a failure, without one."""
    reason = None
    if not POSTGRES_URL:
        reason = "TEST_POSTGRES_URL is not set"
    else:
        probe = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
        try:
            with probe.connect():
                pass
        except sa.exc.OperationalError as exc:
            reason = f"PostgreSQL at TEST_POSTGRES_URL is unreachable: {exc.orig}"
        finally:
            probe.dispose()
    if reason and REQUIRE_POSTGRES:
        pytest.fail(f"{reason} (SURVEILLANCE_REQUIRE_POSTGRES=1)")
    if reason:
        pytest.skip(reason)
    return POSTGRES_URL


def wait_until_blocked(engine, seconds: float = 5.0) -> None:
    """Until another connection waits for a lock (PostgreSQL), or a moment (SQLite waits anyway)."""
    if engine.dialect.name != "postgresql":
        time.sleep(0.3)
        return
    deadline = time.monotonic() + seconds
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            if waiting:
                return
            conn.rollback()
            time.sleep(0.02)
    raise AssertionError("the second transaction never waited for the first")
