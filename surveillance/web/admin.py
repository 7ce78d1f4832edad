"""Administration: accounts and their clinics, clinics, the audit log and the daily e-mails."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from ..clock import clinic_today, utcnow
from ..db.models import AuditEvent, Clinic, Digest, Patient, User
from ..errors import InputError
from ..reminders import outbox
from ..services import Actor
from ..services.audit import record_event
from ..services.transactions import transaction
from ..services.validate import parse_text
from ..users import add_user, list_users, set_active
from .auth import admin_required
from .labels import describe
from .per_request import LARGEST_ID, config, db, page_number, service_context

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE = 100
DIGEST_DAYS = 14


def _actor() -> Actor:
    return Actor(current_user.email, current_user.id)


@bp.get("/users")
@admin_required
def users():
    """Every account, and the form for a new one."""
    return _users_page()


def _users_page(error: str | None = None, values: dict | None = None, status: int = 200):
    clinics = db().scalars(sa.select(Clinic).order_by(Clinic.code)).all()
    return render_template(
        "admin/users.html",
        users=list_users(db()),
        clinics=clinics,
        error=error,
        values=values or {},
    ), status


@bp.post("/users")
@admin_required
def add():
    """Create an account."""
    f = request.form
    try:
        add_user(
            db(),
            _actor(),
            email=f.get("email", ""),
            password=f.get("password", ""),
            role=f.get("role", ""),
            clinic_codes=f.getlist("clinics"),
        )
    except InputError as exc:
        values = {k: v for k, v in f.items() if k != "password"}
        values["clinics"] = f.getlist("clinics")
        return _users_page(describe(exc), values, 400)
    flash(_("Account created."), "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/active")
@admin_required
def activate(user_id: int):
    """Enable or disable an account; disabling ends its sessions at once."""
    user = db().get(User, user_id)
    if user is None:
        return _users_page(_("No such account."), status=404)
    active = request.form.get("active") == "1"
    set_active(db(), _actor(), user.email, active, utcnow())
    flash(
        _("Account enabled.") if active else _("Account disabled; its sessions are ended."), "info"
    )
    return redirect(url_for("admin.users"))


@bp.route("/clinics", methods=["GET", "POST"])
@admin_required
def clinics():
    """Clinics, and the form for a new one."""
    error, status = None, 200
    if request.method == "POST":
        try:
            _add_clinic(request.form.get("code", ""), request.form.get("name", ""))
            flash(_("Clinic created."), "info")
            return redirect(url_for("admin.clinics"))
        except InputError as exc:
            error, status = describe(exc), 400
    rows = db().scalars(sa.select(Clinic).order_by(Clinic.code)).all()
    return render_template(
        "admin/clinics.html", clinics=rows, error=error, values=request.form
    ), status


def _add_clinic(code: str, name: str) -> None:
    session = db()
    with transaction(session):
        code = parse_text("code", code, max_length=32).upper()
        if not code.replace("-", "").isalnum():
            raise InputError("code", code, "may hold only letters, digits and hyphens")
        if session.scalar(sa.select(Clinic.id).where(Clinic.code == code)):
            raise InputError("code", code, "is already in use")
        clinic = Clinic(code=code, name=parse_text("name", name, max_length=200))
        session.add(clinic)
        session.flush()
        record_event(session, _actor(), "clinic.add", None, clinic=code)


@bp.get("/audit")
@admin_required
def audit():
    """The audit log, filtered by patient reference or user; who has seen a patient."""
    ctx = service_context()
    reference = request.args.get("patient", "").strip()
    email = request.args.get("user", "").strip().lower()
    page = page_number()
    query = sa.select(AuditEvent, Patient.local_number).outerjoin(
        Patient, Patient.id == AuditEvent.patient_id
    )
    patient_id = _patient_id(ctx, reference) if reference else None
    if reference:
        query = query.where(AuditEvent.patient_id == (patient_id or -1))
    if email:
        query = query.where(AuditEvent.actor == email)
    total = db().scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = (
        db()
        .execute(
            query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(AUDIT_PAGE)
            .offset((page - 1) * AUDIT_PAGE)
        )
        .all()
    )
    viewers = _viewers(patient_id) if patient_id else []
    return render_template(
        "admin/audit.html",
        rows=rows,
        ctx=ctx,
        reference=reference,
        email=email,
        viewers=viewers,
        total=total,
        page=page,
        page_size=AUDIT_PAGE,
    )


def _patient_id(ctx, reference: str) -> int | None:
    digits = reference.removeprefix(ctx.reference_prefix)
    if not digits.isdigit() or int(digits) > LARGEST_ID:
        return None
    return db().scalar(sa.select(Patient.id).where(Patient.local_number == int(digits)))


def _viewers(patient_id: int):
    """Who has seen the patient's record, and when last: for the patient's right of access."""
    return (
        db()
        .execute(
            sa.select(
                AuditEvent.actor,
                sa.func.count(),
                sa.func.min(AuditEvent.at),
                sa.func.max(AuditEvent.at),
            )
            .where(
                AuditEvent.patient_id == patient_id,
                AuditEvent.action.in_(["patient.view", "patient.reveal_id"]),
            )
            .group_by(AuditEvent.actor)
            .order_by(sa.func.max(AuditEvent.at).desc())
        )
        .all()
    )


@bp.get("/digests")
@admin_required
def digests():
    """The daily e-mails of the last two weeks; failures with the server's answer."""
    today = clinic_today(config().protocol.timezone)
    rows = outbox.recent(db(), today - timedelta(days=DIGEST_DAYS))
    return render_template("admin/digests.html", rows=rows, today=today)


@bp.post("/digests/retry")
@admin_required
def retry_digests():
    """Today's failed e-mails are sent again by the worker (after the cause was fixed)."""
    today = clinic_today(config().protocol.timezone)
    session = db()
    with transaction(session):
        count = outbox.retry_failed(session, today, utcnow())
        record_event(session, _actor(), "digest.retry", None, count=count)
    flash(
        ngettext(
            "%(num)d e-mail will be sent again within minutes.",
            "%(num)d e-mails will be sent again within minutes.",
            count,
        ),
        "info",
    )
    return redirect(url_for("admin.digests"))


def failed_digest_count() -> int:
    """Failed e-mails of the last two weeks, for the administrators' warning."""
    since = clinic_today(config().protocol.timezone) - timedelta(days=DIGEST_DAYS)
    return db().scalar(
        sa.select(sa.func.count())
        .select_from(Digest)
        .where(Digest.state == "failed", Digest.day >= since)
    )
