"""Accounts: created by an administrator, passwords hashed with scrypt."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .db.models import ROLES, User
from .services.audit import Actor, record_event
from .errors import InputError
from .services.patients import clinic_by_code
from .services.unit import transaction
from .services.validate import parse_choice

MIN_PASSWORD_LENGTH = 12


def add_user(session: Session, actor: Actor, *, email: str, password: str, role: str,
             clinic_codes: list[str]) -> User:
    """Create an account with a role and its clinics."""
    with transaction(session):
        email = (email or "").strip().lower()
        if "@" not in email or len(email) > 254:
            raise InputError("email", email, "is not an e-mail address")
        if session.scalar(sa.select(User.id).where(User.email == email)):
            raise InputError("email", email, "already has an account")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InputError("password", "…", f"must be at least {MIN_PASSWORD_LENGTH} characters")
        user = User(email=email, role=parse_choice("role", role, ROLES),
                    password_hash=generate_password_hash(password, method="scrypt"),
                    clinics=[clinic_by_code(session, code) for code in clinic_codes])
        session.add(user)
        session.flush()
        record_event(session, actor, "user.add", None, user=user.id, role=role,
                     clinics=sorted(clinic_codes))
    return user


def password_matches(user: User, password: str) -> bool:
    """Whether `password` is the user's."""
    return check_password_hash(user.password_hash, password)
