"""Accounts: created by an administrator, passwords hashed with scrypt."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .db.models import ROLES, User
from .errors import InputError
from .services.audit import Actor, record_event
from .services.patients import clinic_by_code
from .services.transactions import transaction
from .services.validate import parse_choice

MIN_PASSWORD_LENGTH = 12


def add_user(
    session: Session, actor: Actor, *, email: str, password: str, role: str, clinic_codes: list[str]
) -> User:
    """Create an account with a role and its clinics."""
    with transaction(session):
        email = (email or "").strip().lower()
        if "@" not in email or len(email) > 254:
            raise InputError("email", email, "is not an e-mail address")
        if session.scalar(sa.select(User.id).where(User.email == email)):
            raise InputError("email", email, "already has an account")
        user = User(
            email=email,
            role=parse_choice("role", role, ROLES),
            password_hash=generate_password_hash(check_password(password), method="scrypt"),
            clinics=[clinic_by_code(session, code) for code in clinic_codes],
        )
        session.add(user)
        session.flush()
        record_event(
            session, actor, "user.add", None, user=user.id, role=role, clinics=sorted(clinic_codes)
        )
    return user


def check_password(password: str) -> str:
    """The password, if it is long enough to keep; refused otherwise."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            "password", "…", "must be at least %(min)d characters", min=MIN_PASSWORD_LENGTH
        )
    return password


def password_matches(user: User, password: str) -> bool:
    """Whether `password` is the user's."""
    return check_password_hash(user.password_hash, password)


def set_active(session: Session, actor: Actor, email: str, active: bool, now) -> User:
    """Enable or disable an account; disabling ends every session of it at once."""
    from .logins import end_sessions  # logins builds on this module

    with transaction(session):
        user = session.scalar(sa.select(User).where(User.email == (email or "").strip().lower()))
        if user is None:
            raise InputError("email", email, "has no account")
        user.active = active
        ended = 0 if active else end_sessions(session, user.id, now)
        record_event(
            session,
            actor,
            "user.enable" if active else "user.disable",
            None,
            user=user.id,
            sessions_ended=ended,
        )
    return user


def list_users(session: Session) -> list[User]:
    """Every account, by e-mail."""
    return list(session.scalars(sa.select(User).order_by(User.email)))
