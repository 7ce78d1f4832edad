"""The administrators' page of API tokens: make one for a clinic (shown once), revoke one."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import InputError, NotFound
from ..services import Actor
from ..web.auth import admin_required
from ..web.labels import describe
from ..web.per_request import db
from .tokens import create_api_token, list_api_tokens, revoke_api_token

bp = Blueprint("api_tokens", __name__, url_prefix="/admin/tokens")


def _actor() -> Actor:
    return Actor(current_user.email, current_user.id)


@bp.get("")
@admin_required
def index():
    """The tokens of the administrator's clinics, and the form for a new one."""
    return _page()


@bp.post("")
@admin_required
def create():
    """Make a token for one of the administrator's clinics; show it once."""
    clinic = request.form.get("clinic", "")
    try:
        if not clinic.isdigit() or int(clinic) not in current_user.clinic_ids:
            raise InputError("clinic", clinic, "is not one of your clinics")
        new = create_api_token(
            db(), _actor(), int(clinic), request.form.get("label"), current_user.clinic_ids
        )
    except InputError as exc:
        return _page(error=describe(exc)), 400
    # Rendered, not redirected: the token must not travel through the session cookie.
    return _page(created=new.token), 201


@bp.post("/<int:token_id>/revoke")
@admin_required
def revoke(token_id: int):
    """Revoke a token of one of the administrator's clinics."""
    try:
        revoke_api_token(db(), _actor(), token_id, current_user.clinic_ids)
    except NotFound:
        abort(404)
    flash(_("The API token is revoked: requests with it are refused."), "info")
    return redirect(url_for("api_tokens.index"))


def _page(created: str | None = None, error: str | None = None) -> str:
    tokens = list_api_tokens(db(), current_user.clinic_ids)
    return render_template(
        "admin/tokens.html",
        tokens=tokens,
        clinics=current_user.clinics,
        created=created,
        error=error,
    )
