"""Clinics: created by an installation administrator, validated and audited in one place."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import Clinic
from ..errors import InputError
from .accounts import Admin
from .audit import record_event
from .transactions import transaction
from .validate import parse_text


def create_clinic(session: Session, admin: Admin, code: str, name: str) -> Clinic:
    """A new clinic; only an installation administrator makes one."""
    admin.require_installation()
    with transaction(session):
        code = parse_clinic_code(code)
        if session.scalar(sa.select(Clinic.id).where(Clinic.code == code)):
            raise InputError("code", code, "is already in use")
        clinic = Clinic(code=code, name=parse_text("name", name, max_length=200))
        session.add(clinic)
        session.flush()
        record_event(session, admin.actor, "clinic.add", None, clinic=code)
    return clinic


def parse_clinic_code(value: str | None) -> str:
    """A clinic code: letters, digits and hyphens, upper case, up to 32 characters."""
    code = (parse_text("code", value, max_length=32) or "").upper()
    if not code.replace("-", "").isascii() or not code.replace("-", "").isalnum():
        raise InputError("code", code, "may hold only letters, digits and hyphens")
    return code
