"""Logins: throttled per account and per address, sessions kept and ended on the server side."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from .config import WebConfig
from .db.models import LoginThrottle, User, UserSession
from .errors import ServiceError
from .services.audit import Actor, record_event
from .services.transactions import transaction
from .users import password_matches

# Checked when the account does not exist, so both answers take as long.
_DUMMY_HASH = generate_password_hash("not a password of anyone", method="scrypt")
SEEN_RESOLUTION = timedelta(minutes=1)  # last_seen_at is written at most this often


class LoginRefused(ServiceError):
    """Wrong e-mail or password, or too many failures: `minutes` says how long a lock lasts."""

    def __init__(self, minutes: int = 0):
        self.minutes = minutes
        super().__init__("locked" if minutes else "invalid")


@dataclass(frozen=True, slots=True)
class Login:
    """A successful login: the user and the session token for the cookie."""

    user_id: int
    token: str


def log_in(
    session: Session, email: str, password: str, address: str, web: WebConfig, now: datetime
) -> Login:
    """Check the password under the throttle; start a new server-side session."""
    email = (email or "").strip().lower()
    keys = (f"account:{email}"[:300], f"address:{address}"[:300])
    with transaction(session):
        throttles = [_throttle(session, key, web, now) for key in keys]
        if lock := _lock(throttles, now):
            raise LoginRefused(lock)
        user = session.scalar(sa.select(User).where(User.email == email))
        ok = password_matches_or_dummy(user, password) and user.active
        if ok:
            throttles[0].failures, throttles[0].locked_until = 0, None
        else:
            _fail(throttles, web, now)
            record_event(session, Actor(email or "?"), "login.failed", address=address)
    if not ok:  # raised after the commit, so the failure counts
        raise LoginRefused(_lock(throttles, now))
    return _start(session, user, address, now)


def _lock(throttles: list[LoginThrottle], now: datetime) -> int:
    """Minutes until every lock on this login has passed; 0 when none holds."""
    until = [t.locked_until for t in throttles if t.locked_until and t.locked_until > now]
    return _minutes(max(until) - now) if until else 0


def password_matches_or_dummy(user: User | None, password: str) -> bool:
    """The password check, done against a dummy hash for an unknown account."""
    if user is None:
        password_matches(User(password_hash=_DUMMY_HASH), password)
        return False
    return password_matches(user, password)


def _throttle(session: Session, key: str, web: WebConfig, now: datetime) -> LoginThrottle:
    row = session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, updated_at=now)
        session.add(row)
    elif row.updated_at < now - timedelta(minutes=web.lockout_minutes) and (
        row.locked_until is None or row.locked_until <= now
    ):
        row.failures, row.locked_until = 0, None  # old failures are forgiven
    return row


def _fail(throttles: list[LoginThrottle], web: WebConfig, now: datetime) -> None:
    limits = (web.max_failures_per_account, web.max_failures_per_address)
    for row, limit in zip(throttles, limits):
        row.failures += 1
        row.updated_at = now
        if row.failures >= limit:
            row.locked_until = now + timedelta(minutes=web.lockout_minutes)


def _start(session: Session, user: User, address: str, now: datetime) -> Login:
    token = secrets.token_urlsafe(32)
    with transaction(session):
        session.add(
            UserSession(token_hash=_hash(token), user_id=user.id, created_at=now, last_seen_at=now)
        )
        record_event(session, Actor(user.email, user.id), "login", address=address)
    return Login(user.id, token)


def session_user(session: Session, token: str, web: WebConfig, now: datetime) -> User | None:
    """The user of a live session, or None once it has ended, idled out or grown too old."""
    row = session.scalar(sa.select(UserSession).where(UserSession.token_hash == _hash(token)))
    if row is None or row.ended_at is not None:
        return None
    user = session.get(User, row.user_id)
    idle = now - row.last_seen_at > timedelta(minutes=web.idle_timeout_minutes)
    old = now - row.created_at > timedelta(hours=web.absolute_timeout_hours)
    if idle or old or not user.active:
        with transaction(session):
            session.get(UserSession, row.id).ended_at = now
        return None
    if now - row.last_seen_at > SEEN_RESOLUTION:
        with transaction(session):
            session.get(UserSession, row.id).last_seen_at = now
    return user


def end_sessions(session: Session, user_id: int, now: datetime) -> int:
    """End every open session of a user (inside the caller's transaction); return how many."""
    result = session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return result.rowcount


def log_out(session: Session, user: User, now: datetime) -> None:
    """Logging out ends every session of the user, on every computer."""
    with transaction(session):
        end_sessions(session, user.id, now)
        record_event(session, Actor(user.email, user.id), "logout")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _minutes(delta: timedelta) -> int:
    return max(1, -(-int(delta.total_seconds()) // 60))
