"""API tokens: a clinic administrator's read-only key for one clinic's FHIR API.

256 random bits, only their SHA-256 kept (the feeds' token helpers), revocable at once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from ..clock import utcnow
from ..db.models import ApiToken, Clinic
from ..errors import NotFound
from ..feeds.tokens import new_token, same_hash, token_hash, well_formed
from ..services.audit import Actor, record_event
from ..services.transactions import transaction
from ..services.validate import parse_text


@dataclass(frozen=True, slots=True)
class NewApiToken:
    """A token just made: the secret exists only here, to be shown once."""

    id: int
    clinic_code: str
    token: str


@dataclass(frozen=True, slots=True)
class TokenScope:
    """What a request with a live token may read: one clinic."""

    id: int
    clinic_id: int
    label: str

    @property
    def actor(self) -> Actor:
        """Who the audit log says read: the token, by id and name."""
        return Actor(f"api-token:{self.id}" + (f" ({self.label})" if self.label else ""))


def create_api_token(
    session: Session,
    actor: Actor,
    clinic_id: int,
    label: str | None = None,
    admin_of: Collection[int] | None = None,
) -> NewApiToken:
    """A token for one clinic; `admin_of` (None: the command line) holds the clinics allowed."""
    token = new_token()
    with transaction(session):
        clinic = _clinic(session, clinic_id, admin_of)
        row = ApiToken(
            token_hash=token_hash(token),
            clinic_id=clinic.id,
            created_by=actor.name,
            label=parse_text("label", label, max_length=200, required=False) or "",
        )
        session.add(row)
        session.flush()
        record_event(session, actor, "api_token.create", token=row.id, clinic=clinic.code)
    return NewApiToken(row.id, clinic.code, token)


def _clinic(session: Session, clinic_id: int, admin_of: Collection[int] | None) -> Clinic:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None or (admin_of is not None and clinic_id not in admin_of):
        raise NotFound(f"clinic {clinic_id} not found")
    return clinic


def list_api_tokens(session: Session, admin_of: Collection[int] | None = None) -> list[ApiToken]:
    """Every token (command line) or those of an administrator's clinics; newest first."""
    query = (
        sa.select(ApiToken)
        .options(selectinload(ApiToken.clinic))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    if admin_of is not None:
        query = query.where(ApiToken.clinic_id.in_(list(admin_of) or [-1]))
    return list(session.scalars(query))


def revoke_api_token(
    session: Session, actor: Actor, token_id: int, admin_of: Collection[int] | None = None
) -> ApiToken:
    """Revoke a token at once: its requests get 401 from now on."""
    with transaction(session):
        row = session.get(ApiToken, token_id)
        if row is None or (admin_of is not None and row.clinic_id not in admin_of):
            raise NotFound(f"API token {token_id} not found")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            record_event(session, actor, "api_token.revoke", token=row.id)
    return row


def find_token(session: Session, token: str) -> TokenScope | None:
    """The live token's scope; None for a malformed, unknown or revoked one."""
    if not well_formed(token):
        return None
    row = session.execute(
        sa.select(ApiToken.id, ApiToken.token_hash, ApiToken.clinic_id, ApiToken.label).where(
            ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None)
        )
    ).first()
    if row is None or not same_hash(row.token_hash, token):
        return None
    return TokenScope(row.id, row.clinic_id, row.label)
