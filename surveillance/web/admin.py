"""Administration: accounts and their clinics, clinics, the audit log and the daily e-mails.

Every verb goes through the services with the administrator's scope: a clinic administrator
reaches only their clinics, an installation administrator everything.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from ..clock import clinic_today, utcnow
from ..errors import Conflict, InputError, NotFound
from ..services.accounts import (
    INSTALL_ADMIN,
    Admin,
    add_user,
    edit_user,
    get_user,
    grantable_clinics,
    list_users,
    reset_password,
    set_active,
)
from ..services.clinics import create_clinic
from ..services.lookups import find_by_reference
from ..services.oversight import (
    audit_log,
    recent_digests,
    retry_failed_digests,
    viewers,
)
from .auth import admin_required
from .forms import required_version
from .labels import describe
from .per_request import config, db, page_number, service_context

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE = 100
DIGEST_DAYS = 14


def current_admin() -> Admin:
    """The logged-in administrator's scope."""
    return current_user.admin()


@bp.get("/users")
@admin_required
def users():
    """The accounts this administrator manages, and the form for a new one."""
    return _users_page()


def _users_page(error: str | None = None, values: dict | None = None, status: int = 200):
    admin = current_admin()
    return render_template(
        "admin/users.html",
        users=list_users(db(), admin),
        clinics=grantable_clinics(db(), admin),
        roles=_roles(admin),
        error=error,
        values=values or {},
    ), status


def _roles(admin: Admin) -> tuple[str, ...]:
    return ("nurse", "admin", INSTALL_ADMIN) if admin.installation else ("nurse", "admin")


def _typed() -> dict:
    """The form as typed, without the password, for showing it again."""
    values: dict[str, str | list[str]] = {k: v for k, v in request.form.items() if k != "password"}
    values["clinics"] = request.form.getlist("clinics")
    return values


@bp.post("/users")
@admin_required
def add():
    """Create an account."""
    f = request.form
    try:
        add_user(
            db(),
            current_admin(),
            email=f.get("email", ""),
            name=f.get("name", ""),
            password=f.get("password", ""),
            role=f.get("role", ""),
            clinic_codes=f.getlist("clinics"),
        )
    except InputError as exc:
        return _users_page(describe(exc), _typed(), 400)
    flash(_("Account created."), "info")
    return redirect(url_for("admin.users"))


@bp.get("/users/<int:user_id>")
@admin_required
def account(user_id: int):
    """One account: its name, role and clinics, and a new password."""
    return _account_page(user_id)


def _account_page(user_id: int, error: str | None = None, status: int = 200):
    admin = current_admin()
    user = get_user(db(), admin, user_id)
    values = _typed() if error else {}
    return render_template(
        "admin/account.html",
        user=user,
        clinics=grantable_clinics(db(), admin),
        roles=_roles(admin),
        error=error,
        values=values,
    ), status


@bp.post("/users/<int:user_id>")
@admin_required
def edit(user_id: int):
    """Change an account's name, role and clinics."""
    f = request.form
    return _account_action(
        user_id,
        lambda version: edit_user(
            db(),
            current_admin(),
            user_id,
            name=f.get("name", ""),
            role=f.get("role", ""),
            clinic_codes=f.getlist("clinics"),
            expected_version=version,
        ),
        _("Account saved."),
    )


@bp.post("/users/<int:user_id>/password")
@admin_required
def password(user_id: int):
    """Give an account a new password; its sessions end."""
    new = request.form.get("password", "")
    return _account_action(
        user_id,
        lambda version: reset_password(db(), current_admin(), user_id, new, utcnow(), version),
        _("New password set; the account's sessions are ended."),
    )


@bp.post("/users/<int:user_id>/active")
@admin_required
def activate(user_id: int):
    """Enable or disable an account; disabling ends its sessions at once."""
    active = request.form.get("active") == "1"
    message = _("Account enabled.") if active else _("Account disabled; its sessions are ended.")
    return _account_action(
        user_id,
        lambda version: set_active(db(), current_admin(), user_id, active, utcnow(), version),
        message,
    )


def _account_action(user_id: int, run, done: str):
    """Run an account verb with the form's version; a refusal shows the account again."""
    try:
        run(required_version(request.form))
    except (InputError, Conflict) as exc:
        if isinstance(exc, Conflict):
            return _account_page(user_id, _(str(exc)), 409)
        return _account_page(user_id, describe(exc), 400)
    flash(done, "info")
    return redirect(url_for("admin.users"))


@bp.route("/clinics", methods=["GET", "POST"])
@admin_required
def clinics():
    """Clinics, and the form for a new one: the installation administrator's."""
    admin = current_admin()
    admin.require_installation()
    error, status = None, 200
    if request.method == "POST":
        try:
            create_clinic(db(), admin, request.form.get("code", ""), request.form.get("name", ""))
            flash(_("Clinic created."), "info")
            return redirect(url_for("admin.clinics"))
        except InputError as exc:
            error, status = describe(exc), 400
    rows = grantable_clinics(db(), admin)
    return render_template(
        "admin/clinics.html", clinics=rows, error=error, values=request.form
    ), status


@bp.get("/audit")
@admin_required
def audit():
    """The audit log, filtered by patient reference or user; who has seen a patient."""
    ctx, admin = service_context(), current_admin()
    reference = request.args.get("patient", "").strip()[:40]
    email = request.args.get("user", "").strip().lower()[:254]
    patient_id = _patient_id(ctx, admin, reference) if reference else None
    page = page_number()
    log = audit_log(
        db(),
        admin,
        patient_id=(patient_id or -1) if reference else None,
        email=email,
        page=page,
        page_size=AUDIT_PAGE,
    )
    return render_template(
        "admin/audit.html",
        rows=log.rows,
        ctx=ctx,
        reference=reference,
        email=email,
        viewers=viewers(db(), patient_id) if patient_id else [],
        total=log.total,
        page=page,
        page_size=AUDIT_PAGE,
    )


def _patient_id(ctx, admin: Admin, reference: str) -> int | None:
    """The patient of a reference within the administrator's clinics, else None."""
    try:
        return find_by_reference(db(), ctx, reference, admin.clinic_ids).id
    except (InputError, NotFound):
        return None


@bp.get("/digests")
@admin_required
def digests():
    """The daily e-mails of the last two weeks; failures with the server's answer."""
    today = clinic_today(config().protocol.timezone)
    rows = recent_digests(db(), current_admin(), today - timedelta(days=DIGEST_DAYS))
    return render_template("admin/digests.html", rows=rows, today=today)


@bp.post("/digests/retry")
@admin_required
def retry_digests():
    """Today's failed e-mails are sent again by the worker (after the cause was fixed)."""
    today = clinic_today(config().protocol.timezone)
    count = retry_failed_digests(db(), current_admin(), today, utcnow())
    flash(
        ngettext(
            "%(num)d e-mail will be sent again within minutes.",
            "%(num)d e-mails will be sent again within minutes.",
            count,
        ),
        "info",
    )
    return redirect(url_for("admin.digests"))
