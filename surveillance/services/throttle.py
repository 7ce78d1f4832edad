"""The login throttle: keyed on (account, address) with a progressive delay, plus a ceiling
per address.

Keyed on the pair, an attacker elsewhere cannot lock the real user out of their account; the
per-address ceiling stops one address from guessing across many accounts. Behind a proxy the
address is the client's only when `[web] trusted_proxies` says how many proxies to trust.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ..config import WebConfig
from ..db.models import LoginThrottle

KEY_LENGTH = 300  # the column's


def check(session: Session, email: str, address: str, web: WebConfig, now: datetime) -> int:
    """Minutes until every lock on this login has passed; 0 when none holds."""
    return _lock([_row(session, key, web, now) for key in _keys(email, address)], now)


def failed(session: Session, email: str, address: str, web: WebConfig, now: datetime) -> int:
    """Count a failure; return the minutes of the lock it brings (0: none yet)."""
    pair, per_address = (_row(session, key, web, now) for key in _keys(email, address))
    for row in (pair, per_address):
        row.failures += 1
        row.updated_at = now
    if pair.failures >= web.max_failures_per_account:
        pair.locked_until = now + delay(pair.failures - web.max_failures_per_account, web)
    if per_address.failures >= web.max_failures_per_address:
        per_address.locked_until = now + timedelta(minutes=web.lockout_minutes)
    return _lock([pair, per_address], now)


def succeeded(session: Session, email: str, address: str) -> None:
    """A right password from this address forgives its failures on this account."""
    row = session.get(LoginThrottle, _keys(email, address)[0])
    if row is not None:
        row.failures, row.locked_until = 0, None


def delay(step: int, web: WebConfig) -> timedelta:
    """The progressive delay: 1, 2, 4, 8 ... minutes, at most `lockout_minutes`."""
    return timedelta(minutes=min(2 ** min(step, 16), web.lockout_minutes))


def _keys(email: str, address: str) -> tuple[str, str]:
    return (f"login:{address}:{email}"[:KEY_LENGTH], f"address:{address}"[:KEY_LENGTH])


def _row(session: Session, key: str, web: WebConfig, now: datetime) -> LoginThrottle:
    row = session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, updated_at=now)
        session.add(row)
    elif row.updated_at < now - timedelta(minutes=web.lockout_minutes) and (
        row.locked_until is None or row.locked_until <= now
    ):
        row.failures, row.locked_until = 0, None  # old failures are forgiven
    return row


def _lock(rows: list[LoginThrottle], now: datetime) -> int:
    until = [r.locked_until for r in rows if r.locked_until and r.locked_until > now]
    return _minutes(max(until) - now) if until else 0


def _minutes(delta: timedelta) -> int:
    return max(1, -(-int(delta.total_seconds()) // 60))
