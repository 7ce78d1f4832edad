"""CSRF on every form, security headers on every response, plain error pages."""

from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa
from flask import Flask, Response, g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
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
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.register_error_handler(sa.exc.OperationalError, _database_unavailable)


def _headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
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
