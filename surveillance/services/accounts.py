"""Accounts: made and edited by an administrator within their scope; passwords hashed with scrypt.

Two administrator scopes: a clinic administrator manages the accounts of their clinics only
and grants only those clinics; an installation administrator (made from the command line)
manages every account and the clinics themselves.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from werkzeug.security import check_password_hash, generate_password_hash

from ..config import WebConfig
from ..db.models import ROLES, Clinic, User, UserSession, user_clinics
from ..errors import Conflict, InputError, NotFound, ServiceError
from . import throttle
from .audit import Actor, record_event
from .passwords import check_password
from .transactions import transaction
from .validate import parse_choice, parse_text

MAX_EMAIL = 254  # RFC 5321's longest address, and the column's length
INSTALL_ADMIN = "install_admin"


class Forbidden(ServiceError):
    """The administrator's scope does not reach this: only an installation administrator may."""


@dataclass(frozen=True, slots=True)
class Admin:
    """Who administers, and over which clinics; None: the whole installation."""

    actor: Actor
    clinic_ids: frozenset[int] | None = None

    @property
    def installation(self) -> bool:
        """Whether this administrator manages the whole installation."""
        return self.clinic_ids is None

    def require_installation(self) -> None:
        """Refuse what only an installation administrator may do."""
        if not self.installation:
            raise Forbidden("only an installation administrator may do this")


def admin_of(user: User) -> Admin:
    """The scope of a logged-in administrator: their clinics, or everything."""
    if user.role == INSTALL_ADMIN:
        return Admin(Actor(user.email, user.id))
    if user.role != "admin":
        raise Forbidden("only administrators may do this")
    return Admin(Actor(user.email, user.id), frozenset(c.id for c in user.clinics))


def normalise_email(value: str | None) -> str:
    """An e-mail address as accounts store it: trimmed, lower case, within 254 characters."""
    email = (parse_text("email", value, max_length=MAX_EMAIL) or "").lower()
    if "@" not in email or any(c.isspace() for c in email):
        raise InputError("email", email, "is not an e-mail address")
    return email


def user_by_email(session: Session, email: str | None) -> User | None:
    """The account of an e-mail address, or None (also for what is not an address)."""
    try:
        email = normalise_email(email)
    except InputError:
        return None
    return session.scalar(sa.select(User).where(User.email == email))


def add_user(
    session: Session,
    admin: Admin,
    *,
    email: str,
    password: str,
    role: str,
    clinic_codes: list[str],
    name: str = "",
) -> User:
    """Create an account with a role and its clinics, within the administrator's scope."""
    with transaction(session):
        email = normalise_email(email)
        if session.scalar(sa.select(User.id).where(User.email == email)):
            raise InputError("email", email, "already has an account")
        role = _role(admin, role)
        user = User(
            email=email,
            name=parse_text("name", name, max_length=200, required=False) or "",
            role=role,
            password_hash=hash_password(check_password(password)),
            clinics=_clinics(session, admin, role, clinic_codes),
        )
        session.add(user)
        session.flush()
        record_event(
            session,
            admin.actor,
            "user.add",
            None,
            user=user.id,
            role=role,
            clinics=sorted(c.code for c in user.clinics),
        )
    return user


def edit_user(
    session: Session,
    admin: Admin,
    user_id: int,
    *,
    name: str,
    role: str,
    clinic_codes: list[str],
    expected_version: int | None,
) -> User:
    """Change an account's name, role and clinics; a stale edit is refused."""
    with transaction(session):
        user = _managed(session, admin, user_id, expected_version)
        role = _role(admin, role)
        before = (user.role, sorted(c.code for c in user.clinics))
        user.name = parse_text("name", name, max_length=200, required=False) or ""
        user.role = role
        user.clinics = _clinics(session, admin, role, clinic_codes)
        flag_modified(user, "name")  # clinics live in another table: bump the version anyway
        after = (user.role, sorted(c.code for c in user.clinics))
        record_event(
            session, admin.actor, "user.edit", None, user=user.id, before=before, after=after
        )
    return user


def reset_password(
    session: Session,
    admin: Admin,
    user_id: int,
    password: str,
    now: datetime,
    expected_version: int | None = None,
) -> User:
    """Give an account a new password; its open sessions end at once."""
    with transaction(session):
        user = _managed(session, admin, user_id, expected_version)
        user.password_hash = hash_password(check_password(password))
        ended = end_sessions(session, user.id, now)
        record_event(
            session, admin.actor, "user.password_reset", None, user=user.id, sessions_ended=ended
        )
    return user


def set_active(
    session: Session,
    admin: Admin,
    user_id: int,
    active: bool,
    now: datetime,
    expected_version: int | None = None,
) -> User:
    """Enable or disable an account; disabling ends every session of it at once."""
    with transaction(session):
        user = _managed(session, admin, user_id, expected_version)
        user.active = active
        ended = 0 if active else end_sessions(session, user.id, now)
        action = "user.enable" if active else "user.disable"
        record_event(session, admin.actor, action, None, user=user.id, sessions_ended=ended)
    return user


def list_users(session: Session, admin: Admin) -> list[User]:
    """The accounts the administrator manages, by e-mail."""
    users = session.scalars(sa.select(User).order_by(User.email))
    return [user for user in users if manages(admin, user)]


def get_user(session: Session, admin: Admin, user_id: int) -> User:
    """An account the administrator manages; any other is not found."""
    user = session.get(User, user_id)
    if user is None or not manages(admin, user):
        raise NotFound(f"no account {user_id}")
    return user


def manages(admin: Admin, user: User) -> bool:
    """Whether the account lies within the administrator's scope: all its clinics theirs."""
    if admin.clinic_ids is None:
        return True
    clinic_ids = {c.id for c in user.clinics}
    return user.role != INSTALL_ADMIN and bool(clinic_ids) and clinic_ids <= admin.clinic_ids


def grantable_clinics(session: Session, admin: Admin) -> list[Clinic]:
    """The clinics the administrator may grant, by code."""
    query = sa.select(Clinic).order_by(Clinic.code)
    if admin.clinic_ids is not None:
        query = query.where(Clinic.id.in_(sorted(admin.clinic_ids)))
    return list(session.scalars(query))


def hash_password(password: str) -> str:
    """The stored form of a password."""
    return generate_password_hash(password, method="scrypt")


def password_matches(user: User, password: str) -> bool:
    """Whether `password` is the user's."""
    return check_password_hash(user.password_hash, password)


def end_sessions(session: Session, user_id: int, now: datetime) -> int:
    """End every open session of a user (inside the caller's transaction); return how many."""
    result = session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return cast(sa.CursorResult, result).rowcount


def _managed(session: Session, admin: Admin, user_id: int, expected_version: int | None) -> User:
    user = get_user(session, admin, user_id)
    if expected_version is not None and user.version != expected_version:
        raise Conflict("The record was changed by someone else. Reload the page and try again.")
    if user.id == admin.actor.user_id:
        raise Forbidden("administrators do not change their own account here")
    return user


def _role(admin: Admin, role: str | None) -> str:
    role = parse_choice("role", role, ROLES)
    if role == INSTALL_ADMIN:
        admin.require_installation()
    return role


def _clinics(session: Session, admin: Admin, role: str, codes: list[str]) -> list[Clinic]:
    """The named clinics, each one the administrator's; a nurse or clinic admin needs one."""
    granted = {c.code: c for c in grantable_clinics(session, admin)}
    chosen = []
    for code in dict.fromkeys(codes):
        if code not in granted:
            raise InputError("clinics", code, "is not one of your clinics")
        chosen.append(granted[code])
    if not chosen and role != INSTALL_ADMIN:
        raise InputError("clinics", "", "must name at least one clinic")
    return chosen


# ---- logins: throttled, sessions kept and ended on the server side -------------------------

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
    email = _login_email(email)
    with transaction(session):
        lock = throttle.check(session, email, address, web, now)
        if lock:
            raise LoginRefused(lock)
        user = session.scalar(sa.select(User).where(User.email == email)) if email else None
        ok = password_matches_or_dummy(user, password) and user is not None and user.active
        if ok:
            throttle.succeeded(session, email, address)
        else:
            lock = throttle.failed(session, email, address, web, now)
            record_event(session, Actor(email or "?"), "login.failed", address=address)
    if not ok or user is None:  # raised after the commit, so the failure counts
        raise LoginRefused(lock)
    return _start(session, user, address, now)


def _login_email(value: str | None) -> str:
    """The e-mail as typed at login, normalised; "" when it cannot be an account's."""
    try:
        return normalise_email(value)
    except InputError:
        return ""


def password_matches_or_dummy(user: User | None, password: str) -> bool:
    """The password check, done against a dummy hash for an unknown account."""
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return password_matches(user, password)


def _start(session: Session, user: User, address: str, now: datetime) -> Login:
    token = secrets.token_urlsafe(32)
    with transaction(session):
        session.add(
            UserSession(token_hash=_hash(token), user_id=user.id, created_at=now, last_seen_at=now)
        )
        record_event(session, Actor(user.email, user.id), "login", address=address)
    return Login(user.id, token)


@dataclass(frozen=True)
class ClinicRef:
    """A clinic as a page names it."""

    id: int
    code: str
    name: str


@dataclass(frozen=True)
class SessionUser:
    """The user of a live session, as every page needs it: plain values, not rows to track."""

    id: int
    email: str
    role: str
    clinics: tuple[ClinicRef, ...]  # by code


# Made once: a statement built anew costs as much again as running it (its cache key is
# worked out on every execution unless the statement object is the same, issue 10).
_SESSION_USER = (
    sa.select(
        UserSession.id.label("session_id"),
        UserSession.ended_at,
        UserSession.last_seen_at,
        UserSession.created_at,
        User.id.label("user_id"),
        User.email,
        User.role,
        User.active,
        Clinic.id.label("clinic_id"),
        Clinic.code.label("clinic_code"),
        Clinic.name.label("clinic_name"),
    )
    .outerjoin(User, User.id == UserSession.user_id)
    .outerjoin(user_clinics, user_clinics.c.user_id == User.id)
    .outerjoin(Clinic, Clinic.id == user_clinics.c.clinic_id)
    .where(UserSession.token_hash == sa.bindparam("token_hash"))
)


def session_user(session: Session, token: str, web: WebConfig, now: datetime) -> SessionUser | None:
    """The user of a live session, or None once it has ended, idled out or grown too old."""
    # One statement, the user's clinics joined, read as values: every page asks this first,
    # and ORM objects cost it twice the time (issue 10). Columns, not entities: run as Core,
    # on the session's connection, without the ORM's result machinery.
    rows = session.connection().execute(_SESSION_USER, {"token_hash": _hash(token)}).all()
    if not rows or rows[0].ended_at is not None:
        return None
    first = rows[0]
    idle = now - first.last_seen_at > timedelta(minutes=web.idle_timeout_minutes)
    old = now - first.created_at > timedelta(hours=web.absolute_timeout_hours)
    if idle or old or first.user_id is None or not first.active:
        _touch(session, first.session_id, ended_at=now)
        return None
    if now - first.last_seen_at > SEEN_RESOLUTION:
        _touch(session, first.session_id, last_seen_at=now)
    clinics = sorted(
        (
            ClinicRef(row.clinic_id, row.clinic_code, row.clinic_name)
            for row in rows
            if row.clinic_id is not None
        ),
        key=lambda clinic: clinic.code,
    )
    return SessionUser(first.user_id, first.email, first.role, tuple(clinics))


def _touch(session: Session, session_id: int, **values: datetime) -> None:
    """Set a session row's timestamps in a write of their own."""
    with transaction(session):
        session.execute(sa.update(UserSession).where(UserSession.id == session_id).values(values))


def log_out(session: Session, user: User, now: datetime) -> None:
    """Logging out ends every session of the user, on every computer."""
    with transaction(session):
        end_sessions(session, user.id, now)
        record_event(session, Actor(user.email, user.id), "logout")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
