"""CSRF on every form, security headers on every response, plain error pages."""

from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug import exceptions
from werkzeug.exceptions import HTTPException

from ..errors import Busy, NotFound
from ..services.accounts import Forbidden
from . import forms

log = logging.getLogger(__name__)
HSTS = "max-age=31536000; includeSubDomains"  # a year
csrf = CSRFProtect()

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def init_app(app: Flask) -> None:
    """Protect every form against CSRF; add the headers; make errors plain pages."""
    csrf.init_app(app)
    forms.init_app(app)  # after the CSRF check, before any view or query
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    # A service's refusal that no view turned into a page: out of scope, or not there.
    app.register_error_handler(Forbidden, lambda _exc: _http_error(exceptions.Forbidden()))
    app.register_error_handler(NotFound, lambda _exc: _http_error(exceptions.NotFound()))
    app.register_error_handler(Busy, _busy)
    app.register_error_handler(Exception, _unexpected_error)
    app.register_error_handler(sa.exc.OperationalError, _database_unavailable)


def _headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if current_app.config["SESSION_COOKIE_SECURE"]:  # base_url is https: never plain http again
        response.headers["Strict-Transport-Security"] = HSTS
    if request.endpoint not in ("static", "feeds.feed"):  # a feed sets its own, for its ETag
        # Pages carry patient data: no browser or proxy may keep a copy.
        response.headers["Cache-Control"] = "no-store"
    return response


def _csrf_error(error: CSRFError):
    message = _("The form had expired or was not sent from this site. Please try again.")
    return render_template("error.html", title=_("Please try again"), message=message), 400


def _http_error(error: HTTPException):
    titles = {
        404: _("Not found"),
        403: _("Not allowed"),
        405: _("Not allowed"),
        413: _("The file is too large"),
    }
    title = titles.get(error.code or 0, error.name)
    return render_template("error.html", title=title, message=None), error.code


def _busy(error: Busy):
    """Another writer held the database too long: say so and ask to retry, not a 500."""
    log.warning(
        "database busy on %s %s", request.method, request.endpoint
    )  # a path may hold a token
    message = _("The database is busy. Nothing was saved: try again in a moment.")
    page = render_template("error.html", title=_("Please try again"), message=message)
    return page, 503, {"Retry-After": "5"}


def _unexpected_error(error: Exception):
    incident = uuid.uuid4().hex[:10]
    log.exception("incident %s on %s %s", incident, request.method, request.path)
    message = _(
        "Something went wrong. Nothing was saved. Incident: %(incident)s", incident=incident
    )
    return render_template("error.html", title=_("Error"), message=message, incident=incident), 500


def _database_unavailable(error: sa.exc.OperationalError):
    # A database restart or failover: the requests in flight get this page; the pool tests
    # its connections before the next requests use them, so the node recovers by itself.
    incident = uuid.uuid4().hex[:10]
    log.error(
        "incident %s on %s %s: database unavailable: %s",
        incident,
        request.method,
        request.path,
        error.orig,
    )
    session = g.pop("db", None)
    if session is not None:
        session.close()  # its connection is broken: the error page must not use it
    message = _(
        "The database did not answer. Nothing was saved. Please try again in a minute. "
        "Incident: %(incident)s",
        incident=incident,
    )
    page: str | Response
    try:
        page = render_template("error.html", title=_("Please try again"), message=message)
    except sa.exc.SQLAlchemyError:  # the page's header asks the database who is logged in
        page = Response(message + "\n", mimetype="text/plain")
    return page, 503
