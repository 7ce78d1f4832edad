"""Logging in and out; every other page needs a live server-side session."""

from __future__ import annotations

from functools import wraps

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from ..clock import utcnow
from ..db.models import ADMIN_ROLES, User
from ..services.accounts import Admin, LoginRefused, SessionUser, log_in, log_out, session_user
from ..services.audit import Actor
from .forms import safe_target
from .per_request import config, db

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


class CurrentUser:
    """The logged-in user as Flask-Login sees it; its id is the session token."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: SessionUser, token: str):
        self.id, self.email, self.role = user.id, user.email, user.role
        self.clinics = user.clinics  # by code
        self.clinic_ids = [c.id for c in self.clinics]
        self.token = token

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES

    @property
    def is_installation_admin(self) -> bool:
        return self.role == "install_admin"

    def admin(self) -> Admin:
        """The administrator's scope: their clinics, or the whole installation."""
        actor = Actor(self.email, self.id)
        return (
            Admin(actor) if self.is_installation_admin else Admin(actor, frozenset(self.clinic_ids))
        )

    def get_id(self) -> str:
        return self.token


def init_app(app: Flask) -> None:
    """Flask-Login, with sessions checked against the database on every request."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in.")
    login_manager.session_protection = "strong"


@login_manager.user_loader
def _load(token: str):
    user = session_user(db(), token, config().web, utcnow())
    return CurrentUser(user, token) if user else None


def admin_required(view):
    """Only administrators."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login page; the same answer for an unknown user and a wrong password."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            result = log_in(
                db(),
                form.email.data,
                form.password.data,
                request.remote_addr or "?",
                config().web,
                utcnow(),
            )
        except LoginRefused as refused:
            flash(
                ngettext(
                    "Too many failed attempts. Try again in %(num)d minute.",
                    "Too many failed attempts. Try again in %(num)d minutes.",
                    refused.minutes,
                )
                if refused.minutes
                else _("Wrong e-mail or password."),
                "error",
            )
        else:
            lang = session.get("lang")
            session.clear()  # a new session id at login: nothing carried over but the language
            if lang:
                session["lang"] = lang
            # The session just started, read as every later request reads it.
            user = session_user(db(), result.token, config().web, utcnow())
            if user is not None:
                login_user(CurrentUser(user, result.token))
            return redirect(safe_target(request.args.get("next")) or url_for("worklist.today"))
    return render_template("login.html", form=form), 200 if not form.errors else 400


@bp.post("/logout")
@login_required
def logout():
    """End every session of this user on the server, then the cookie."""
    log_out(db(), db().get(User, current_user.id), utcnow())
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))
