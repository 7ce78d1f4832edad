"""Who gets a clinic's digest: the clinic's own list and the users who opted in."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db.models import Clinic, User, user_clinics
from ..errors import InputError
from ..services.audit import Actor, record_event
from ..services.lookups import clinic_by_code
from ..services.transactions import transaction

ADDRESS = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+|[^@\s,;<>]+@localhost")


def parse_addresses(text: str) -> list[str]:
    """Addresses separated by commas, semicolons or white space, lower-cased, each once."""
    addresses = [a.strip().lower() for a in re.split(r"[,;\s]+", text or "") if a.strip()]
    for address in addresses:
        if not ADDRESS.fullmatch(address):
            raise InputError("recipients", address, "is not an e-mail address")
    return list(dict.fromkeys(addresses))


def clinic_recipients(session: Session, clinic: Clinic) -> list[str]:
    """The clinic's listed addresses and its active users who opted in, sorted, each once."""
    opted_in = session.scalars(
        sa.select(User.email)
        .join(user_clinics, user_clinics.c.user_id == User.id)
        .where(user_clinics.c.clinic_id == clinic.id, User.active, User.digest_opt_in)
    )
    addresses = parse_addresses(clinic.digest_recipients) + [e.lower() for e in opted_in]
    return sorted(set(addresses))


def set_clinic_digest(
    session: Session,
    actor: Actor,
    clinic_code: str,
    *,
    recipients: str | None = None,
    include_references: bool | None = None,
) -> Clinic:
    """Change a clinic's digest recipients or its opt-in to local references."""
    with transaction(session):
        clinic = clinic_by_code(session, clinic_code)
        if recipients is not None:
            clinic.digest_recipients = ", ".join(parse_addresses(recipients))
        if include_references is not None:
            clinic.digest_include_references = include_references
        record_event(
            session,
            actor,
            "clinic.digest",
            None,
            clinic=clinic.code,
            recipients=clinic.digest_recipients,
            include_references=clinic.digest_include_references,
        )
    return clinic


def set_opt_in(session: Session, actor: Actor, email: str, opt_in: bool) -> User:
    """A user starts or stops getting the digests of their clinics."""
    with transaction(session):
        user = session.scalar(sa.select(User).where(User.email == (email or "").strip().lower()))
        if user is None:
            raise InputError("email", email, "has no account")
        user.digest_opt_in = opt_in
        record_event(session, actor, "user.digest_opt_in", None, user=user.id, opt_in=opt_in)
    return user
